package validate

import (
	"net/url"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	appName      = "connops"
	nameLabel    = "app.kubernetes.io/name"
	secretName   = "connops"
	httpPortName = "http"
	// defaultShutdown is connops' SHUTDOWN_TIMEOUT when it is unset.
	defaultShutdown = 20 * time.Second
)

func TestBase(t *testing.T) {
	t.Parallel()
	s := render(t, "../base")
	checkStack(t, s)
	if got := *s.Deployments[0].Spec.Replicas; got != 3 {
		t.Errorf("base replicas = %d, want 3", got)
	}
	hpa := s.HPAs[0]
	if *hpa.Spec.MinReplicas != 3 || hpa.Spec.MaxReplicas != 10 {
		t.Errorf("base HPA range = %d..%d, want 3..10", *hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}
}

func TestExampleOverlay(t *testing.T) {
	t.Parallel()
	s := render(t, "../overlays/example")
	checkStack(t, s)

	const ns = "connops"
	if len(s.Namespaces) != 1 || s.Namespaces[0].Name != ns {
		t.Errorf("overlay should create the Namespace %q", ns)
	}
	for _, meta := range namespacedObjects(s) {
		if meta.Namespace != ns {
			t.Errorf("%s namespace = %q, want %q", meta.Name, meta.Namespace, ns)
		}
	}
	image := s.Deployments[0].Spec.Template.Spec.Containers[0].Image
	if tag := imageTag(image); !strings.Contains(image, "@sha256:") && (tag == "" || tag == "latest" || tag == "dev") {
		t.Errorf("overlay image %q should pin a release tag", image)
	}
	u, err := url.Parse(s.ConfigMaps[0].Data["PUBLIC_BASE_URL"])
	if err != nil || u.Scheme != "https" || u.Host == "" {
		t.Errorf("overlay PUBLIC_BASE_URL = %q, want an absolute https URL", s.ConfigMaps[0].Data["PUBLIC_BASE_URL"])
	}
}

// checkStack checks what every rendering must satisfy.
func checkStack(t *testing.T, s stack) {
	t.Helper()
	if len(s.Deployments) != 1 || len(s.Services) != 1 || len(s.ConfigMaps) != 1 ||
		len(s.PDBs) != 1 || len(s.HPAs) != 1 {
		t.Fatalf("want one each of Deployment, Service, ConfigMap, PDB, HPA; got %d, %d, %d, %d, %d",
			len(s.Deployments), len(s.Services), len(s.ConfigMaps), len(s.PDBs), len(s.HPAs))
	}
	for _, meta := range namespacedObjects(s) {
		if meta.Labels[nameLabel] != appName {
			t.Errorf("%s lacks label %s=%s", meta.Name, nameLabel, appName)
		}
	}
	t.Run("Deployment", func(t *testing.T) { checkDeployment(t, s) })
	t.Run("Service", func(t *testing.T) { checkService(t, s) })
	t.Run("Scaling", func(t *testing.T) { checkScaling(t, s) })
	t.Run("Env", func(t *testing.T) { checkEnv(t, s) })
}

func checkDeployment(t *testing.T, s stack) {
	d := s.Deployments[0]
	pod := d.Spec.Template.Spec
	sel, err := metaSelector(d.Spec.Selector.MatchLabels)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) || d.Spec.Selector.MatchLabels[nameLabel] != appName {
		t.Errorf("selector %v must select the pod labels %v by %s", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels, nameLabel)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want 1 container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	if p := containerPort(c, httpPortName); p == nil || p.ContainerPort != 8080 {
		t.Errorf("container needs port 8080 named %q", httpPortName)
	}
	checkProbe(t, "readinessProbe", c.ReadinessProbe, "/readyz")
	checkProbe(t, "livenessProbe", c.LivenessProbe, "/healthz")
	if c.StartupProbe != nil {
		checkProbe(t, "startupProbe", c.StartupProbe, "/healthz")
	}

	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[name]
		lim, okLim := c.Resources.Limits[name]
		switch {
		case !okReq || !okLim:
			t.Errorf("%s needs both a request and a limit", name)
		case req.Cmp(lim) > 0:
			t.Errorf("%s request %s is above its limit %s", name, req.String(), lim.String())
		}
	}

	checkSecurity(t, pod.SecurityContext, c.SecurityContext)

	preStop := preStopSeconds(t, c)
	shutdown := shutdownTimeout(t, s.ConfigMaps[0])
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.TerminationGracePeriodSeconds != nil {
		grace = *pod.TerminationGracePeriodSeconds
	}
	if grace <= 25 {
		t.Errorf("terminationGracePeriodSeconds = %d, want more than 25", grace)
	}
	if budget := time.Duration(preStop)*time.Second + shutdown; time.Duration(grace)*time.Second <= budget {
		t.Errorf("terminationGracePeriodSeconds %ds leaves no margin over preStop %ds + SHUTDOWN_TIMEOUT %s",
			grace, preStop, shutdown)
	}
}

func checkProbe(t *testing.T, name string, p *corev1.Probe, path string) {
	t.Helper()
	switch {
	case p == nil:
		t.Errorf("%s is not set", name)
	case p.HTTPGet == nil:
		t.Errorf("%s must be an httpGet probe", name)
	case p.HTTPGet.Path != path:
		t.Errorf("%s path = %q, want %q", name, p.HTTPGet.Path, path)
	case p.HTTPGet.Port != intstr.FromString(httpPortName):
		t.Errorf("%s port = %s, want the named port %q", name, p.HTTPGet.Port.String(), httpPortName)
	}
}

// checkSecurity checks the effective settings: a container's own context
// overrides its pod's for the fields both have.
func checkSecurity(t *testing.T, pod *corev1.PodSecurityContext, c *corev1.SecurityContext) {
	t.Helper()
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	if c == nil {
		t.Fatal("container securityContext is not set")
	}
	nonRoot, user, seccomp := pod.RunAsNonRoot, pod.RunAsUser, pod.SeccompProfile
	if c.RunAsNonRoot != nil {
		nonRoot = c.RunAsNonRoot
	}
	if c.RunAsUser != nil {
		user = c.RunAsUser
	}
	if c.SeccompProfile != nil {
		seccomp = c.SeccompProfile
	}
	if nonRoot == nil || !*nonRoot {
		t.Error("runAsNonRoot must be true")
	}
	if user == nil || *user == 0 {
		t.Error("runAsUser must be set and non-zero (the image's user is 65532)")
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("seccompProfile must be RuntimeDefault")
	}
	if c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if c.Privileged != nil && *c.Privileged {
		t.Error("container must not be privileged")
	}
	if c.Capabilities == nil || len(c.Capabilities.Add) > 0 ||
		len(c.Capabilities.Drop) != 1 || c.Capabilities.Drop[0] != "ALL" {
		t.Error("capabilities must drop ALL and add none")
	}
}

// preStopSeconds returns how long the preStop hook delays SIGTERM.
func preStopSeconds(t *testing.T, c corev1.Container) int64 {
	t.Helper()
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		t.Error("preStop hook is not set")
		return 0
	}
	// The native sleep action needs no shell, which the distroless image lacks.
	sleep := c.Lifecycle.PreStop.Sleep
	if sleep == nil || sleep.Seconds <= 0 {
		t.Error("preStop must be a native sleep of at least 1 second")
		return 0
	}
	return sleep.Seconds
}

func shutdownTimeout(t *testing.T, cm *corev1.ConfigMap) time.Duration {
	t.Helper()
	v, ok := cm.Data["SHUTDOWN_TIMEOUT"]
	if !ok {
		return defaultShutdown
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Errorf("SHUTDOWN_TIMEOUT = %q is not a positive duration", v)
		return defaultShutdown
	}
	return d
}

func checkService(t *testing.T, s stack) {
	svc, d := s.Services[0], s.Deployments[0]
	if svc.Spec.Type != corev1.ServiceTypeClusterIP && svc.Spec.Type != "" {
		t.Errorf("Service type = %s, want ClusterIP", svc.Spec.Type)
	}
	sel, err := metaSelector(svc.Spec.Selector)
	if err != nil || len(svc.Spec.Selector) == 0 || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Service selector %v does not select the pods", svc.Spec.Selector)
	}
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("want 1 Service port, got %d", len(svc.Spec.Ports))
	}
	p := svc.Spec.Ports[0]
	if p.Port != 80 || p.TargetPort != intstr.FromString(httpPortName) {
		t.Errorf("Service port %d -> %s, want 80 -> %q", p.Port, p.TargetPort.String(), httpPortName)
	}
	if containerPort(d.Spec.Template.Spec.Containers[0], httpPortName) == nil {
		t.Errorf("Service targets port %q, which the container does not name", httpPortName)
	}
}

func checkScaling(t *testing.T, s stack) {
	d, pdb, hpa := s.Deployments[0], s.PDBs[0], s.HPAs[0]
	ref := hpa.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
		t.Errorf("HPA targets %s %s %s, want apps/v1 Deployment %s", ref.APIVersion, ref.Kind, ref.Name, d.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 3 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Fatalf("HPA range must start at 3 or more and not be empty")
	}
	minReplicas := int(*hpa.Spec.MinReplicas)
	if r := int(*d.Spec.Replicas); r < minReplicas || r > int(hpa.Spec.MaxReplicas) {
		t.Errorf("Deployment replicas %d outside the HPA range %d..%d", r, minReplicas, hpa.Spec.MaxReplicas)
	}
	if !hasCPUMetric(hpa.Spec.Metrics) {
		t.Error("HPA must scale on CPU utilization")
	}

	sel, err := metaSelector(pdb.Spec.Selector.MatchLabels)
	if err != nil || len(pdb.Spec.Selector.MatchLabels) == 0 || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("PDB selector %v does not select the pods", pdb.Spec.Selector.MatchLabels)
	}
	// At the HPA's floor the budget must keep some pods up and still allow
	// one eviction, or node drains block forever.
	switch {
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MaxUnavailable != nil:
		t.Error("PDB sets both minAvailable and maxUnavailable")
	case pdb.Spec.MinAvailable != nil:
		need, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, minReplicas, true)
		if err != nil || need < 1 || need >= minReplicas {
			t.Errorf("PDB minAvailable %s must be in 1..%d at the HPA minimum", pdb.Spec.MinAvailable.String(), minReplicas-1)
		}
	case pdb.Spec.MaxUnavailable != nil:
		down, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, minReplicas, true)
		if err != nil || down < 1 || down >= minReplicas {
			t.Errorf("PDB maxUnavailable %s must be in 1..%d at the HPA minimum", pdb.Spec.MaxUnavailable.String(), minReplicas-1)
		}
	default:
		t.Error("PDB sets neither minAvailable nor maxUnavailable")
	}
}

func hasCPUMetric(metrics []autoscalingv2.MetricSpec) bool {
	for _, m := range metrics {
		if m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Target.AverageUtilization != nil && *m.Resource.Target.AverageUtilization > 0 {
			return true
		}
	}
	return false
}

// checkEnv checks that the container is given only variables connops reads,
// and credentials only from the Secret.
func checkEnv(t *testing.T, s stack) {
	c := s.Deployments[0].Spec.Template.Spec.Containers[0]
	configMaps := make(map[string]*corev1.ConfigMap)
	for _, cm := range s.ConfigMaps {
		configMaps[cm.Name] = cm
	}
	seen := make(map[string]bool)
	for _, from := range c.EnvFrom {
		if from.Prefix != "" {
			t.Errorf("envFrom prefix %q renames the variables", from.Prefix)
		}
		if from.SecretRef != nil {
			t.Errorf("envFrom secretRef %q hides which variables are set; use env with secretKeyRef", from.SecretRef.Name)
		}
		if from.ConfigMapRef == nil {
			continue
		}
		cm, ok := configMaps[from.ConfigMapRef.Name]
		if !ok {
			t.Errorf("envFrom names ConfigMap %q, which is not rendered", from.ConfigMapRef.Name)
			continue
		}
		for key := range cm.Data {
			if !isKnownEnv(key) {
				t.Errorf("ConfigMap %s key %s is not a variable connops reads", cm.Name, key)
			}
			if isSecretEnv(key) {
				t.Errorf("ConfigMap %s carries %s, which belongs in the Secret", cm.Name, key)
			}
			seen[key] = true
		}
		if len(cm.BinaryData) > 0 {
			t.Errorf("ConfigMap %s has binaryData, which cannot be environment", cm.Name)
		}
	}
	for _, e := range c.Env {
		if !isKnownEnv(e.Name) {
			t.Errorf("env %s is not a variable connops reads", e.Name)
		}
		seen[e.Name] = true
		if !isSecretEnv(e.Name) {
			continue
		}
		ref := (*corev1.SecretKeySelector)(nil)
		if e.ValueFrom != nil {
			ref = e.ValueFrom.SecretKeyRef
		}
		if ref == nil || ref.Name != secretName || ref.Key != e.Name || (ref.Optional != nil && *ref.Optional) {
			t.Errorf("env %s must come from key %s of the Secret %q, not optional", e.Name, e.Name, secretName)
		}
	}
	for _, name := range []string{"DATABASE_URL", "AUTH_HS256_SECRET"} {
		if !seen[name] {
			t.Errorf("%s is required by connops serve but not set", name)
		}
	}
	if addr, ok := configMaps[appName].Data["LISTEN_ADDR"]; ok && !strings.HasSuffix(addr, ":8080") {
		t.Errorf("LISTEN_ADDR %q does not match containerPort 8080", addr)
	}
}

func containerPort(c corev1.Container, name string) *corev1.ContainerPort {
	for i := range c.Ports {
		if c.Ports[i].Name == name {
			return &c.Ports[i]
		}
	}
	return nil
}

func metaSelector(m map[string]string) (labels.Selector, error) {
	return labels.ValidatedSelectorFromSet(m)
}

func namespacedObjects(s stack) []*metav1.ObjectMeta {
	var out []*metav1.ObjectMeta
	for _, d := range s.Deployments {
		out = append(out, &d.ObjectMeta)
	}
	for _, o := range s.Services {
		out = append(out, &o.ObjectMeta)
	}
	for _, o := range s.ConfigMaps {
		out = append(out, &o.ObjectMeta)
	}
	for _, o := range s.PDBs {
		out = append(out, &o.ObjectMeta)
	}
	for _, o := range s.HPAs {
		out = append(out, &o.ObjectMeta)
	}
	return out
}

// imageTag returns the tag of an image reference, or "" when it has none.
// A registry host's port is not a tag: the tag follows the last slash.
func imageTag(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndex(image, "/")
	if colon := strings.LastIndex(image, ":"); colon > slash {
		return image[colon+1:]
	}
	return ""
}
