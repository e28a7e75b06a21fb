-- Browser origins allowed to call a client's session-token routes (CORS). NULL: the origins
-- of its callback_url and allowed_redirect_urls.
ALTER TABLE environments ADD COLUMN allowed_origins text[];
