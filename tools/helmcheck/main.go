// Command helmcheck lints and renders the Switchyard Helm chart with the
// Helm library, as `helm lint` and `helm template` would, and checks the
// objects it renders: for the default values (one node on its embedded
// engines), the cluster values file, persistence, and a configuration
// the chart must refuse. Each rendered switchyard.yaml is checked by the
// binary itself (`switchyard config validate`).
//
//	go run . CHART_DIR SWITCHYARD_BINARY
//
// It is a module of its own so that Helm's and Kubernetes' dependencies
// stay out of Switchyard's.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"
)

type object = map[string]any

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: helmcheck CHART_DIR SWITCHYARD_BINARY")
		os.Exit(2)
	}
	c := &checker{dir: os.Args[1], binary: os.Args[2]}
	c.run()
	if c.failed > 0 {
		fmt.Fprintf(os.Stderr, "helmcheck: %d problem(s)\n", c.failed)
		os.Exit(1)
	}
	fmt.Println("helmcheck: the chart lints, renders and checks out")
}

type checker struct {
	dir, binary string
	failed      int
	name        string // the case being checked
}

func (c *checker) errorf(format string, args ...any) {
	c.failed++
	fmt.Fprintf(os.Stderr, "%s: %s\n", c.name, fmt.Sprintf(format, args...))
}

func (c *checker) run() {
	// One node, embedded engines.
	c.name = "default values"
	objs := c.render(c.values())
	dep := c.one(objs, "Deployment")
	c.expect(dig(dep, "spec", "replicas"), float64(1), "replicas")
	c.expect(dig(dep, "spec", "strategy", "type"), "Recreate", "strategy (one node owns the embedded files)")
	ctr := c.container(dep)
	c.expect(dig(ctr, "readinessProbe", "httpGet", "path"), "/readyz", "readiness probe")
	c.expect(dig(ctr, "livenessProbe", "httpGet", "path"), "/healthz", "liveness probe")
	c.expect(dig(ctr, "securityContext", "readOnlyRootFilesystem"), true, "read-only root")
	c.expect(dig(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot"), true, "non-root")
	if args := strs(ctr["args"]); !slices.Contains(args, "serve") || !slices.Contains(args, "--config=/etc/switchyard/switchyard.yaml") {
		c.errorf("args %v: want serve with the ConfigMap's file", args)
	}
	c.expect(c.env(ctr, "SWITCHYARD_ADMIN_TOKEN")["valueFrom"] != nil, true, "admin token from a Secret")
	c.expect(dig(c.one(objs, "Service"), "spec", "ports", 0, "port"), float64(8686), "service port")
	c.none(objs, "PodDisruptionBudget")
	c.none(objs, "ServiceMonitor")
	c.none(objs, "PersistentVolumeClaim")
	c.validateConfig(objs)

	// Persistence for the one node.
	c.name = "persistence"
	objs = c.render(c.values("--set", "persistence.enabled=true"))
	pvc := c.one(objs, "PersistentVolumeClaim")
	c.expect(dig(pvc, "spec", "resources", "requests", "storage"), "10Gi", "claim size")
	c.expect(dig(c.volume(c.one(objs, "Deployment"), "data"), "persistentVolumeClaim", "claimName"), dig(pvc, "metadata", "name"), "data volume")

	// Three nodes on external engines, URLs from Secrets.
	c.name = "values-cluster.yaml"
	objs = c.render(c.values(filepath.Join(c.dir, "values-cluster.yaml")))
	dep = c.one(objs, "Deployment")
	c.expect(dig(dep, "spec", "replicas"), float64(3), "replicas")
	if dig(dep, "spec", "strategy") != nil {
		c.errorf("several nodes roll one at a time: no Recreate strategy, got %v", dig(dep, "spec", "strategy"))
	}
	ctr = c.container(dep)
	var cfg object
	_ = yaml.Unmarshal([]byte(fmt.Sprint(dig(c.one(objs, "ConfigMap"), "data", "switchyard.yaml"))), &cfg)
	c.expect(cfg["postgres_url"], "${SWITCHYARD_POSTGRES_URL}", "postgres_url in the configuration")
	c.expect(cfg["nats_url"], "${SWITCHYARD_NATS_URL}", "nats_url in the configuration")
	c.expect(dig(c.env(ctr, "SWITCHYARD_POSTGRES_URL"), "valueFrom", "secretKeyRef", "name"), "switchyard-postgres", "PostgreSQL URL's Secret")
	c.expect(dig(c.env(ctr, "SWITCHYARD_NATS_URL"), "valueFrom", "secretKeyRef", "name"), "switchyard-nats", "NATS URL's Secret")
	c.expect(dig(c.one(objs, "PodDisruptionBudget"), "spec", "minAvailable"), float64(1), "disruption budget")
	sm := c.one(objs, "ServiceMonitor")
	c.expect(dig(sm, "spec", "endpoints", 0, "path"), "/metrics", "service monitor")
	c.expect(dig(sm, "spec", "endpoints", 0, "authorization", "credentials", "name"), "switchyard-admin", "service monitor's bearer token")
	c.validateConfig(objs)

	// Several nodes cannot share embedded engines.
	c.name = "replicas without external engines"
	if _, err := c.tryRender(c.values("--set", "replicaCount=2")); err == nil || !strings.Contains(err.Error(), "needs an external PostgreSQL and NATS") {
		c.errorf("rendered, or failed otherwise: %v", err)
	}
}

// values reads the chart's values.yaml, then each file or --set pair of
// more, as helm does (the values lint and render merge with the chart's).
func (c *checker) values(more ...string) map[string]any {
	vals := map[string]any{}
	for i := 0; i < len(more); i++ {
		if more[i] == "--set" {
			k, v, _ := strings.Cut(more[i+1], "=")
			setPath(vals, strings.Split(k, "."), parseScalar(v))
			i++
			continue
		}
		file, err := common.ReadValuesFile(more[i])
		if err != nil {
			c.errorf("read %s: %v", more[i], err)
			continue
		}
		vals = util.CoalesceTables(file.AsMap(), vals)
	}
	return vals
}

func (c *checker) tryRender(vals map[string]any) (map[string]string, error) {
	ch, err := loader.Load(c.dir)
	if err != nil {
		return nil, err
	}
	rv, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{Name: "sy", Namespace: "default", IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, rv)
}

// render lints with vals, renders, and returns the objects by kind.
func (c *checker) render(vals map[string]any) map[string][]object {
	l := lint.RunAll(c.dir, vals, "default")
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			c.errorf("lint: %s", m.Error())
		}
	}
	files, err := c.tryRender(vals)
	if err != nil {
		c.errorf("render: %v", err)
		return nil
	}
	objs := map[string][]object{}
	for name, text := range files {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for _, doc := range strings.Split(text, "\n---") {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				c.errorf("%s does not parse: %v", name, err)
				continue
			}
			if o == nil {
				continue
			}
			kind, _ := o["kind"].(string)
			if o["apiVersion"] == nil || kind == "" || dig(o, "metadata", "name") == nil {
				c.errorf("%s: an object without apiVersion, kind or name", name)
			}
			objs[kind] = append(objs[kind], o)
		}
	}
	return objs
}

// validateConfig runs `switchyard config validate` on the ConfigMap's
// switchyard.yaml, with the variables it names set as the pod sets them.
func (c *checker) validateConfig(objs map[string][]object) {
	text, _ := dig(c.one(objs, "ConfigMap"), "data", "switchyard.yaml").(string)
	if text == "" {
		c.errorf("the ConfigMap has no switchyard.yaml")
		return
	}
	f, err := os.CreateTemp("", "switchyard-*.yaml")
	if err != nil {
		c.errorf("%v", err)
		return
	}
	defer os.Remove(f.Name())
	_, _ = f.WriteString(text)
	f.Close()
	cmd := exec.Command(c.binary, "config", "validate", f.Name())
	cmd.Env = append(os.Environ(), "SWITCHYARD_ADMIN_TOKEN=a-token-from-the-secret",
		"SWITCHYARD_POSTGRES_URL=postgres://switchyard@postgres:5432/switchyard", "SWITCHYARD_NATS_URL=nats://nats:4222")
	if out, err := cmd.CombinedOutput(); err != nil {
		c.errorf("switchyard config validate: %v\n%s\n--- the file:\n%s", err, out, text)
	}
}

func (c *checker) one(objs map[string][]object, kind string) object {
	if len(objs[kind]) != 1 {
		c.errorf("%d %s objects, want 1", len(objs[kind]), kind)
		return object{}
	}
	return objs[kind][0]
}

func (c *checker) none(objs map[string][]object, kind string) {
	if len(objs[kind]) != 0 {
		c.errorf("%d %s objects, want none", len(objs[kind]), kind)
	}
}

func (c *checker) container(dep object) object {
	o, _ := dig(dep, "spec", "template", "spec", "containers", 0).(object)
	if o == nil {
		c.errorf("no container")
		return object{}
	}
	return o
}

func (c *checker) env(ctr object, name string) object {
	list, _ := ctr["env"].([]any)
	for _, e := range list {
		if e, ok := e.(object); ok && e["name"] == name {
			return e
		}
	}
	c.errorf("no environment variable %s", name)
	return object{}
}

func (c *checker) volume(dep object, name string) object {
	list, _ := dig(dep, "spec", "template", "spec", "volumes").([]any)
	for _, v := range list {
		if v, ok := v.(object); ok && v["name"] == name {
			return v
		}
	}
	c.errorf("no volume %s", name)
	return object{}
}

func (c *checker) expect(got, want any, what string) {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		c.errorf("%s: %v, want %v", what, got, want)
	}
}

// dig follows map keys and list indexes; nil where the path ends.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(object)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

func setPath(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

func parseScalar(s string) any {
	var v any
	if yaml.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	return v
}
