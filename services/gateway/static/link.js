/*! Linkport Link JS SDK: no dependencies.
 *
 *   <script src="https://YOUR-LINKPORT/sdk/link.js"></script>
 *   const link = LinkportLink.init({
 *     token: "lt_…",                                  // from your backend
 *     onSuccess: (publicToken, metadata) => {},       // send publicToken to your backend
 *     onExit: (error, metadata) => {},                // error is null when the user just closed it
 *     onEvent: (eventName, metadata) => {},           // OPEN, CLOSE
 *   });
 *   link.open();                                      // call from a click handler (popup blockers)
 *
 *   CobaltLink.init({ token, onSuccess });            // the EMR seed's SDK: init opens Link at once
 *
 * Link runs in a popup on Linkport's origin; it reports back with postMessage to the exact
 * origin of this page, and this SDK only listens to messages from Linkport's origin.
 */
(function (window) {
  "use strict";
  var script = document.currentScript;
  var linkportOrigin = new URL(script ? script.src : window.location.href).origin;

  function init(config) {
    if (!config || typeof config.token !== "string" || !config.token) {
      throw new Error("LinkportLink.init: config.token (a link token) is required");
    }
    var popup = null;
    var finished = false;
    var watcher = null;

    function call(name) {
      var fn = config[name];
      if (typeof fn === "function") {
        try { fn.apply(null, Array.prototype.slice.call(arguments, 1)); } catch (e) { setTimeout(function () { throw e; }); }
      }
    }

    function stop() {
      finished = true;
      window.removeEventListener("message", onMessage);
      if (watcher) { clearInterval(watcher); watcher = null; }
    }

    function onMessage(event) {
      if (event.origin !== linkportOrigin || !event.data || event.data.source !== "linkport") return;
      var data = event.data;
      if (data.type === "success") {
        stop();
        call("onEvent", "CLOSE", data.metadata || {});
        call("onSuccess", data.public_token, data.metadata || {});
      } else if (data.type === "exit") {
        stop();
        call("onEvent", "CLOSE", data.metadata || {});
        call("onExit", data.error || null, data.metadata || {});
      }
    }

    return {
      open: function () {
        if (popup && !popup.closed && !finished) { popup.focus(); return; } // already open
        finished = false;
        var url = linkportOrigin + "/link?token=" + encodeURIComponent(config.token) +
          "&origin=" + encodeURIComponent(window.location.origin);
        popup = window.open(url, "linkport-link", "popup=yes,width=480,height=720");
        if (!popup) {
          call("onExit", { error_code: "popup_blocked", error_message: "The browser blocked the Link window." }, {});
          return;
        }
        window.addEventListener("message", onMessage);
        call("onEvent", "OPEN", {});
        watcher = setInterval(function () {
          if (popup.closed && !finished) {
            clearInterval(watcher);
            watcher = null;
            // The popup may have closed right after posting its result: give that
            // message time to arrive before concluding the user simply closed Link.
            setTimeout(function () {
              if (finished) return;
              stop();
              call("onEvent", "CLOSE", {});
              call("onExit", null, {});
            }, 500);
          }
        }, 250);
      },
      close: function () {
        if (popup && !popup.closed) popup.close();
      }
    };
  }

  window.LinkportLink = { init: init };
  // The EMR seed's name for the same SDK, so pages written against it work unchanged:
  // CobaltLink.init({token, onSuccess}) opens Link at once (call it in a click handler, as
  // the seed's launch_cobalt() does); calling .open() on what it returns is harmless.
  window.CobaltLink = {
    init: function (config) {
      var link = init(config);
      link.open();
      return link;
    }
  };
})(window);
