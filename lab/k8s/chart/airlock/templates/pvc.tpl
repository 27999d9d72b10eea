{{- if .Values.persistence.enabled }}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "airlock.fullname" . }}-data
  labels:
    {{- include "airlock.labels" . | nindent 4 }}
spec:
  accessModes:
    - {{ .Values.persistence.accessMode }}
  storageClassName: {{ .Values.persistence.storageClassName | quote }}
  {{- if .Values.lab.persistentVolume }}
  volumeName: {{ include "airlock.fullname" . }}-data-{{ .Release.Namespace }}-lab
  {{- end }}
  resources:
    requests:
      storage: {{ .Values.persistence.size }}
{{- if .Values.lab.persistentVolume }}
---
# Lab only: the kwok cluster has no storage provisioner.
apiVersion: v1
kind: PersistentVolume
metadata:
  name: {{ include "airlock.fullname" . }}-data-{{ .Release.Namespace }}-lab
  labels:
    {{- include "airlock.labels" . | nindent 4 }}
spec:
  capacity:
    storage: {{ .Values.persistence.size }}
  accessModes:
    - {{ .Values.persistence.accessMode }}
  persistentVolumeReclaimPolicy: Delete
  storageClassName: {{ .Values.persistence.storageClassName | quote }}
  claimRef:
    namespace: {{ .Release.Namespace }}
    name: {{ include "airlock.fullname" . }}-data
  hostPath:
    path: /var/lib/airlock-lab/{{ .Release.Namespace }}/{{ include "airlock.fullname" . }}
    type: DirectoryOrCreate
{{- end }}
{{- end }}
