{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "concentrator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "concentrator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "concentrator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "concentrator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "concentrator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "concentrator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "concentrator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "concentrator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "concentrator.secretName" -}}
{{- if .Values.secrets.create }}
{{- printf "%s-secrets" (include "concentrator.fullname" .) }}
{{- else }}
{{- required "secrets.existingSecret is required when secrets.create is false" .Values.secrets.existingSecret }}
{{- end }}
{{- end }}

{{- define "concentrator.headlessName" -}}
{{- printf "%s-cluster" (include "concentrator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* none or kubernetes: "auto" forms a one-node cluster for a single replica. */}}
{{- define "concentrator.discovery" -}}
{{- if eq .Values.cluster.discovery "auto" }}
{{- if gt (int .Values.replicaCount) 1 }}kubernetes{{ else }}none{{ end }}
{{- else }}
{{- .Values.cluster.discovery }}
{{- end }}
{{- end }}

{{/* "true" when the nodes form a cluster of several (Kubernetes discovery or seed nodes); "" for a one-node cluster,
whose remoting binds to loopback. */}}
{{- define "concentrator.multiNode" -}}
{{- if or (eq (include "concentrator.discovery" .) "kubernetes") .Values.cluster.seedNodes }}true{{ end }}
{{- end }}

{{/* The name every node's certificate carries: the headless Service's pod names unless cluster.tls.remoteId says. */}}
{{- define "concentrator.remoteId" -}}
{{- default (printf "*.%s.%s.svc.cluster.local" (include "concentrator.headlessName" .) .Release.Namespace) .Values.cluster.tls.remoteId }}
{{- end }}

{{/* Paths inside the pod; the config includes the Secret's files relative to its own directory. */}}
{{- define "concentrator.configDir" -}}/etc/concentrator/config{{- end }}
{{- define "concentrator.secretsDir" -}}/etc/concentrator/secrets{{- end }}
{{- define "concentrator.tlsDir" -}}/etc/concentrator/cluster-tls{{- end }}

{{/*
The config file as the application reads it: .Values.config plus the keys the chart owns
(http.listen, cluster, include). Rendered once here so the ConfigMap and its checksum agree.
*/}}
{{- define "concentrator.config" -}}
{{- $c := deepCopy .Values.config }}
{{- $_ := set $c "http" (dict "listen" (printf "0.0.0.0:%d" (int .Values.ports.http))) }}
{{- $discovery := include "concentrator.discovery" . }}
{{- $tls := dict "certificate" "" "password_file" "" }}
{{- if .Values.cluster.tls.enabled }}
{{- /* Relative to the config file's folder, like the include below: the mounts are siblings under /etc/concentrator. */}}
{{- $tlsRel := printf "../%s" (base (include "concentrator.tlsDir" .)) }}
{{- $tls = dict "certificate" (printf "%s/%s" $tlsRel .Values.cluster.tls.certificateKey) "password_file" (printf "%s/%s" $tlsRel .Values.cluster.tls.passwordKey) "cacerts" (list (printf "%s/%s" $tlsRel .Values.cluster.tls.caKey)) "remote_id" (include "concentrator.remoteId" .) }}
{{- end }}
{{- $selector := printf "app.kubernetes.io/name=%s,app.kubernetes.io/instance=%s" (include "concentrator.name" .) .Release.Name }}
{{- $contacts := min (int .Values.cluster.requiredContactPoints) (int .Values.replicaCount) }}
{{- $_ := set $c "cluster" (dict
    "hostname" "127.0.0.1"
    "port" (int .Values.cluster.port)
    "seed_nodes" .Values.cluster.seedNodes
    "discovery" $discovery
    "management_port" (int .Values.cluster.managementPort)
    "kubernetes" (dict "pod_label_selector" $selector "required_contact_points" (int $contacts))
    "split_brain_resolver" .Values.cluster.splitBrainResolver
    "tls" $tls) }}
{{- $_ := set $c "include" (list (printf "../%s/*.yaml" (base (include "concentrator.secretsDir" .)))) }}
{{- toYaml $c }}
{{- end }}
