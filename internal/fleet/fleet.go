// Package fleet holds the example repository gitopskit's quickstart, tests
// and examples reconcile: a Flux fleet in the shape teams run — an
// infrastructure layer of HelmReleases (an operator chart that installs a
// CRD and its controller, and a database chart), a dependency layer of
// custom resources of that CRD, and an application as a Kustomize base with
// a dev overlay — with the charts it needs as a directory to mirror the Helm
// repository from, so nothing is fetched from the network.
package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Facts about the fleet that programs and tests refer to.
const (
	// Path is the root path of the cluster, as flux bootstrap lays it out.
	Path = "clusters/dev"
	// ChartsURL is the Helm repository the HelmRepository names; map it to
	// the charts directory with source.Mirrors.
	ChartsURL = "https://charts.example.com"

	Infrastructure = "Kustomization/flux-system/infrastructure"
	Dependency     = "Kustomization/flux-system/dependency"
	Application    = "Kustomization/flux-system/application"
	WidgetOperator = "HelmRelease/widgets-system/widget-operator"
	Database       = "HelmRelease/database/postgresql"

	// FeatureFlags is the file of the object RemoveFeatureFlags removes.
	FeatureFlags = "apps/dev/feature-flags.yaml"
)

// Repo returns the repository's files, by slash path.
func Repo() map[string]string {
	return map[string]string{
		"clusters/dev/infrastructure.yaml": kustomization("infrastructure", "./infrastructure"),
		"clusters/dev/dependency.yaml":     kustomization("dependency", "./dependency", "infrastructure"),
		"clusters/dev/application.yaml":    kustomization("application", "./apps/dev", "dependency"),

		"infrastructure/namespaces.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: widgets-system
---
apiVersion: v1
kind: Namespace
metadata:
  name: database
`,
		"infrastructure/repository.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: gitopskit-charts
  namespace: flux-system
spec:
  interval: 1h
  url: ` + ChartsURL + `
`,
		"infrastructure/widget-operator.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: widget-operator
  namespace: widgets-system
spec:
  interval: 10m
  chart:
    spec:
      chart: widget-operator
      version: "1.x"
      sourceRef:
        kind: HelmRepository
        name: gitopskit-charts
        namespace: flux-system
  install:
    crds: CreateReplace
  upgrade:
    crds: CreateReplace
  values:
    replicas: 1
`,
		"infrastructure/postgresql.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: postgresql
  namespace: database
spec:
  interval: 10m
  chart:
    spec:
      chart: database
      version: ">=15.0.0 <16.0.0"
      sourceRef:
        kind: HelmRepository
        name: gitopskit-charts
        namespace: flux-system
  values:
    storage: 1Gi
    database: app
`,

		// A custom resource of the operator's CRD: Flux cannot order it
		// after the HelmRelease that installs the CRD; gitopskit can.
		"dependency/default-widget.yaml": `apiVersion: widgets.gitopskit.dev/v1
kind: ClusterWidget
metadata:
  name: default
spec:
  color: blue
  size: 3
`,

		"apps/base/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
  - config.yaml
`,
		"apps/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: registry.k8s.io/pause:3.9
          envFrom:
            - configMapRef:
                name: web-config
          ports:
            - containerPort: 8080
`,
		"apps/base/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
`,
		"apps/base/config.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  DATABASE_HOST: postgresql.database.svc
  LOG_LEVEL: info
`,
		"apps/dev/kustomization.yaml": devOverlay(true),
		"apps/dev/namespace.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: web-dev
`,
		FeatureFlags: `apiVersion: v1
kind: ConfigMap
metadata:
  name: feature-flags
data:
  NEW_CHECKOUT: "true"
`,
	}
}

// RemoveFeatureFlags is the change the quickstart commits: the dev
// overlay stops listing the feature-flags ConfigMap and its file goes, so
// the next reconcile prunes it. Files mapped to "" are to be deleted.
func RemoveFeatureFlags() map[string]string {
	return map[string]string{
		"apps/dev/kustomization.yaml": devOverlay(false),
		FeatureFlags:                  "",
	}
}

func devOverlay(flags bool) string {
	resources := "  - namespace.yaml\n  - ../base\n"
	if flags {
		resources += "  - feature-flags.yaml\n"
	}
	return `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: web-dev
resources:
` + resources + `images:
  - name: registry.k8s.io/pause
    newTag: "3.10"
patches:
  - target:
      kind: Deployment
      name: web
    patch: |
      - op: replace
        path: /spec/replicas
        value: 1
  - target:
      kind: ConfigMap
      name: web-config
    patch: |
      - op: replace
        path: /data/LOG_LEVEL
        value: debug
`
}

func kustomization(name, path string, dependsOn ...string) string {
	var deps string
	if len(dependsOn) > 0 {
		deps = "  dependsOn:\n"
		for _, d := range dependsOn {
			deps += "    - name: " + d + "\n"
		}
	}
	return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: ` + name + `
  namespace: flux-system
spec:
  interval: 10m
` + deps + `  path: ` + path + `
  prune: true
  wait: true
  timeout: 2m
  sourceRef:
    kind: GitRepository
    name: flux-system
`
}

// Charts returns the charts of the Helm repository, unpacked, by slash path
// (<chart>/<file>): lay them out in a directory and mirror ChartsURL to it.
func Charts() map[string]string {
	return map[string]string{
		"widget-operator/Chart.yaml": `apiVersion: v2
name: widget-operator
version: 1.2.0
appVersion: "1.2.0"
description: An operator that reconciles ClusterWidgets.
`,
		"widget-operator/values.yaml": "replicas: 1\nimage: registry.k8s.io/pause:3.10\n",
		"widget-operator/crds/clusterwidgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterwidgets.widgets.gitopskit.dev
spec:
  group: widgets.gitopskit.dev
  scope: Cluster
  names:
    kind: ClusterWidget
    listKind: ClusterWidgetList
    plural: clusterwidgets
    singular: clusterwidget
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                color:
                  type: string
                size:
                  type: integer
`,
		"widget-operator/templates/serviceaccount.yaml": `apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
`,
		"widget-operator/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    app.kubernetes.io/name: widget-operator
    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: widget-operator
  template:
    metadata:
      labels:
        app.kubernetes.io/name: widget-operator
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
        - name: operator
          image: {{ .Values.image | quote }}
`,
		"database/Chart.yaml": `apiVersion: v2
name: database
version: 15.4.1
appVersion: "17.2"
description: A PostgreSQL database as a StatefulSet.
`,
		"database/values.yaml": "storage: 8Gi\ndatabase: postgres\npassword: change-me\n",
		"database/templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-auth
  namespace: {{ .Release.Namespace }}
type: Opaque
stringData:
  password: {{ .Values.password | quote }}
`,
		"database/templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/name: {{ .Release.Name }}
  ports:
    - port: 5432
`,
		"database/templates/statefulset.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  serviceName: {{ .Release.Name }}
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Release.Name }}
    spec:
      containers:
        - name: postgres
          image: "docker.io/library/postgres:{{ .Chart.AppVersion }}"
          env:
            - name: POSTGRES_DB
              value: {{ .Values.database | quote }}
            - name: POSTGRES_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ .Release.Name }}-auth
                  key: password
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: {{ .Values.storage }}
`,
	}
}

// Write writes files (slash path → content) under dir; an empty content
// deletes the file.
func Write(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return err
			}
			continue
		}
		if strings.Contains(name, "..") {
			return fmt.Errorf("fleet: %s leaves the directory", name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
