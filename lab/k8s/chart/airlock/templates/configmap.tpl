apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "airlock.fullname" . }}-config
  labels:
    {{- include "airlock.labels" . | nindent 4 }}
data:
  config.yaml: |
    {{- default (.Files.Get "files/config.yaml") .Values.configYaml | nindent 4 }}
  policy.rego: |
    {{- default (.Files.Get "files/policy.rego") .Values.policyRego | nindent 4 }}
