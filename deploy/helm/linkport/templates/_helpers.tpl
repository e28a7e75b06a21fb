{{/* Names ------------------------------------------------------------------------------- */}}

{{- define "linkport.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's base name; components append -gateway, -worker, -migrate (so 54 chars max). */}}
{{- define "linkport.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "linkport.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "linkport.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "linkport.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels ------------------------------------------------------------------------------ */}}

{{- define "linkport.selectorLabels" -}}
app.kubernetes.io/name: {{ include "linkport.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "linkport.labels" -}}
helm.sh/chart: {{ include "linkport.chart" . }}
{{ include "linkport.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: linkport
{{- end }}

{{/* Call with (dict "root" $ "component" "gateway"). */}}
{{- define "linkport.componentSelectorLabels" -}}
{{ include "linkport.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "linkport.componentLabels" -}}
{{ include "linkport.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Image and settings ------------------------------------------------------------------ */}}

{{- define "linkport.image" -}}
{{- $image := .Values.image }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag | toString) }}
{{- end }}
{{- end }}

{{- define "linkport.baseUrl" -}}
{{- if .Values.baseUrl }}
{{- .Values.baseUrl | trimSuffix "/" }}
{{- else if and .Values.gateway.ingress.enabled .Values.gateway.ingress.hosts }}
{{- $host := first .Values.gateway.ingress.hosts }}
{{- printf "%s://%s" (ternary "https" "http" (gt (len .Values.gateway.ingress.tls) 0)) $host }}
{{- else }}
{{- print "http://localhost:8080" }}
{{- end }}
{{- end }}

{{- define "linkport.gatewayServiceName" -}}
{{- printf "%s-gateway" (include "linkport.fullname" .) }}
{{- end }}

{{/* Whether the chart renders its own Secret: some value is given inline. */}}
{{- define "linkport.managedSecret" -}}
{{- $v := .Values }}
{{- if or (and (not $v.database.existingSecret.name) $v.database.url) (and (not $v.redis.existingSecret.name) $v.redis.url) (and (not $v.encryption.existingSecret.name) (or $v.encryption.key $v.encryption.previousKeys)) }}true{{ end }}
{{- end }}

{{/* Secret references: (list name key) for each of database, redis, encryption key. */}}
{{- define "linkport.secretRef.database" -}}
{{- if .Values.database.existingSecret.name }}
{{- list .Values.database.existingSecret.name .Values.database.existingSecret.key | toJson }}
{{- else if .Values.database.url }}
{{- list (include "linkport.fullname" .) "database-url" | toJson }}
{{- else }}
{{- fail "linkport: set database.url or database.existingSecret.name (the PostgreSQL URL)" }}
{{- list "" "" | toJson }}
{{- end }}
{{- end }}

{{- define "linkport.secretRef.redis" -}}
{{- if .Values.redis.existingSecret.name }}
{{- list .Values.redis.existingSecret.name .Values.redis.existingSecret.key | toJson }}
{{- else if .Values.redis.url }}
{{- list (include "linkport.fullname" .) "redis-url" | toJson }}
{{- else }}
{{- fail "linkport: set redis.url or redis.existingSecret.name (the Redis URL)" }}
{{- list "" "" | toJson }}
{{- end }}
{{- end }}

{{- define "linkport.secretRef.encryption" -}}
{{- if .Values.encryption.existingSecret.name }}
{{- list .Values.encryption.existingSecret.name .Values.encryption.existingSecret.key .Values.encryption.existingSecret.previousKeysKey | toJson }}
{{- else if .Values.encryption.key }}
{{- list (include "linkport.fullname" .) "encryption-key" "encryption-previous-keys" | toJson }}
{{- else }}
{{- fail "linkport: set encryption.key or encryption.existingSecret.name (generate a key with: openssl rand -base64 32, and keep it safe: losing it loses every stored credential)" }}
{{- list "" "" "" | toJson }}
{{- end }}
{{- end }}

{{- define "linkport.caMountPath" -}}/etc/linkport/postgres-ca{{- end }}

{{/* Pod parts -------------------------------------------------------------------------- */}}

{{/* Environment of every Linkport container (the ConfigMap comes in through envFrom). */}}
{{- define "linkport.env" -}}
{{- $db := include "linkport.secretRef.database" . | fromJsonArray }}
{{- $redis := include "linkport.secretRef.redis" . | fromJsonArray }}
{{- $enc := include "linkport.secretRef.encryption" . | fromJsonArray -}}
- name: LINKPORT_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ index $db 0 }}
      key: {{ index $db 1 }}
- name: LINKPORT_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ index $redis 0 }}
      key: {{ index $redis 1 }}
- name: LINKPORT_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ index $enc 0 }}
      key: {{ index $enc 1 }}
{{- if index $enc 2 }}
- name: LINKPORT_ENCRYPTION_PREVIOUS_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ index $enc 0 }}
      key: {{ index $enc 2 }}
      optional: true
{{- end }}
{{- include "linkport.databaseTlsEnv" . }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The CA bundle for verify-full: asyncpg reads PGSSLROOTCERT today. */}}
{{- define "linkport.databaseTlsEnv" -}}
{{- with .Values.database.sslRootCert.secretName }}
- name: PGSSLROOTCERT
  value: {{ printf "%s/%s" (include "linkport.caMountPath" $) $.Values.database.sslRootCert.key | quote }}
- name: LINKPORT_DATABASE_SSL_ROOT_CERT
  value: {{ printf "%s/%s" (include "linkport.caMountPath" $) $.Values.database.sslRootCert.key | quote }}
{{- end }}
{{- end }}

{{- define "linkport.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.database.sslRootCert.secretName }}
- name: postgres-ca
  mountPath: {{ include "linkport.caMountPath" . }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "linkport.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpDir.sizeLimit }}
{{- with .Values.database.sslRootCert.secretName }}
- name: postgres-ca
  secret:
    secretName: {{ . }}
    items:
      - key: {{ $.Values.database.sslRootCert.key }}
        path: {{ $.Values.database.sslRootCert.key }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Soft spreading over topologySpread.topologyKeys; call with (dict "root" $ "component" "gateway"). */}}
{{- define "linkport.topologySpreadConstraints" -}}
{{- range .root.Values.topologySpread.topologyKeys }}
- maxSkew: 1
  topologyKey: {{ . }}
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "linkport.componentSelectorLabels" (dict "root" $.root "component" $.component) | nindent 6 }}
{{- end }}
{{- end }}

{{/* Pod annotations that roll the pods when their configuration changes. */}}
{{- define "linkport.configChecksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}

{{/* Egress rules: DNS, PostgreSQL and extraEgress always; with "app", Redis and third parties. */}}
{{- define "linkport.networkPolicy.egress" -}}
{{- $np := .root.Values.networkPolicy -}}
- to:
    {{- toYaml $np.dns.to | nindent 4 }}
  ports:
    {{- range $np.dns.ports }}
    - protocol: UDP
      port: {{ . }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
- ports:
    {{- range $np.postgres.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with $np.postgres.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- if .app }}
- ports:
    {{- range $np.redis.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with $np.redis.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- if $np.external.enabled }}
- to:
    - ipBlock:
        cidr: 0.0.0.0/0
        except:
          {{- toYaml $np.external.except | nindent 10 }}
    - ipBlock:
        cidr: ::/0
        except:
          {{- toYaml $np.external.exceptIPv6 | nindent 10 }}
  ports:
    {{- range $np.external.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end }}
{{- end }}
{{- with $np.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end }}
