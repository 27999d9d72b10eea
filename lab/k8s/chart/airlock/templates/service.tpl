apiVersion: v1
kind: Service
metadata:
  name: {{ include "airlock.fullname" . }}
  labels:
    {{- include "airlock.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  ports:
    - port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
      name: http
  selector:
    {{- include "airlock.selectorLabels" . | nindent 4 }}
