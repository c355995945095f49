package validate

import (
	"fmt"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// stack is one rendered kustomization, decoded into the Kubernetes API types.
type stack struct {
	Deployments []*appsv1.Deployment
	Services    []*corev1.Service
	ConfigMaps  []*corev1.ConfigMap
	Namespaces  []*corev1.Namespace
	PDBs        []*policyv1.PodDisruptionBudget
	HPAs        []*autoscalingv2.HorizontalPodAutoscaler
}

// render builds the kustomization in dir (relative to this folder) the way
// `kubectl kustomize` does and decodes every object strictly.
func render(t *testing.T, dir string) stack {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var s stack
	for _, res := range resMap.Resources() {
		doc, err := res.AsYAML()
		if err != nil {
			t.Fatalf("%s: %v", res.CurId(), err)
		}
		if err := s.add(doc); err != nil {
			t.Errorf("%s in %s: %v", res.CurId(), dir, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return s
}

// add decodes one object by apiVersion and kind. Unknown fields, duplicate
// keys and kinds the stack is not meant to contain are errors.
func (s *stack) add(doc []byte) error {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	var err error
	switch gvk := tm.APIVersion + " " + tm.Kind; gvk {
	case "apps/v1 Deployment":
		s.Deployments, err = appendStrict(s.Deployments, doc)
	case "v1 Service":
		s.Services, err = appendStrict(s.Services, doc)
	case "v1 ConfigMap":
		s.ConfigMaps, err = appendStrict(s.ConfigMaps, doc)
	case "v1 Namespace":
		s.Namespaces, err = appendStrict(s.Namespaces, doc)
	case "policy/v1 PodDisruptionBudget":
		s.PDBs, err = appendStrict(s.PDBs, doc)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		s.HPAs, err = appendStrict(s.HPAs, doc)
	default:
		return fmt.Errorf("unexpected object %q", gvk)
	}
	return err
}

func appendStrict[T any](list []*T, doc []byte) ([]*T, error) {
	obj := new(T)
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return list, fmt.Errorf("decode strictly: %w", err)
	}
	return append(list, obj), nil
}

func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	t.Parallel()
	var s stack
	doc := []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {prots: []}\n")
	if err := s.add(doc); err == nil {
		t.Error("a misspelt field decoded without error")
	}
	doc = []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")
	if err := s.add(doc); err == nil {
		t.Error("a Secret was accepted; the stack must not carry one")
	}
}
