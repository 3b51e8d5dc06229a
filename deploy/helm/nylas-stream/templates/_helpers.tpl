{{/* Names: <release>-<chart>, trimmed to 63 characters minus room for the longest suffix. */}}
{{- define "nylas-stream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nylas-stream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nylas-stream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "nylas-stream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "ingress") */}}
{{- define "nylas-stream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nylas-stream.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "nylas-stream.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "nylas-stream.secretEnvName" -}}
{{- if .Values.secretEnv.existingSecret -}}
{{ .Values.secretEnv.existingSecret }}
{{- else if .Values.secretEnv.values -}}
{{ include "nylas-stream.fullname" . }}-env
{{- end -}}
{{- end -}}

{{/*
The environment every container gets: the shared configuration, then the component's own variables
(a map of name: value), then the secret variables. (dict "root" $ "env" .Values.ingress.env)
*/}}
{{- define "nylas-stream.env" -}}
{{- $all := merge (dict) (.env | default dict) .root.Values.config -}}
env:
{{- range $name := keys $all | sortAlpha }}
{{- $value := get $all $name }}
{{- if not (kindIs "string" $value) }}
{{- fail (printf "%s must be a string: quote it in the values (a YAML number becomes a float, 16777216 would render as 1.6777216e+07)" $name) }}
{{- end }}
  - name: {{ $name }}
    value: {{ $value | quote }}
{{- end }}
{{- with include "nylas-stream.secretEnvName" .root }}
envFrom:
  - secretRef:
      name: {{ . }}
{{- end }}
{{- end -}}

{{/* Pod-level settings every pod shares. */}}
{{- define "nylas-stream.podCommon" -}}
# Kubernetes would inject <SERVICE>_PORT=tcp://… for every Service in the namespace; a Service called
# `ingress` or `processor` collides with the services' own INGRESS_* and PROCESSOR_* variables.
enableServiceLinks: false
automountServiceAccountToken: false
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Scheduling settings of one component: (.Values.ingress or .Values.processor) */}}
{{- define "nylas-stream.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Checksums that roll the pods when their configuration changes. */}}
{{- define "nylas-stream.configChecksum" -}}
checksum/config: {{ toJson (dict "config" .Values.config "secretEnv" .Values.secretEnv) | sha256sum }}
{{- end -}}
