// Command validate checks a stream of rendered Kubernetes manifests (the output of `helm template`)
// offline, without a cluster and without downloading schemas:
//
//   - every document is decoded strictly into the Go types of the Kubernetes API (k8s.io/api) or of
//     prometheus-operator (monitoring.coreos.com/v1), through apimachinery's universal deserializer in
//     strict mode: an unknown or duplicate field, a value of the wrong type, an unparsable quantity or
//     a kind that is not registered here is an error;
//   - a few checks the API server makes and the types cannot express: object, container, port and
//     environment variable names; labels and annotations; a workload's selector matches its pod
//     template; every volume mount names a volume or a volumeClaimTemplate.
//
// Usage: validate < manifests.yaml. It prints one JSON line per object ({"source", "apiVersion",
// "kind", "name", "errors"}) and exits 1 when any object has errors, 2 when the input cannot be read.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Result is one rendered object and what is wrong with it.
type Result struct {
	Source     string   `json:"source"`
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Errors     []string `json:"errors"`
}

func newDecoder() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme,
		autoscalingv2.AddToScheme, networkingv1.AddToScheme, rbacv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		utilruntime.Must(add(scheme))
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

func main() {
	results, err := validateStream(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(2)
	}
	failed := 0
	out := json.NewEncoder(os.Stdout)
	for _, r := range results {
		if len(r.Errors) > 0 {
			failed++
		}
		if err := out.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "validate:", err)
			os.Exit(2)
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "validate: %d of %d object(s) invalid\n", failed, len(results))
		os.Exit(1)
	}
}

func validateStream(in io.Reader) ([]Result, error) {
	decoder := newDecoder()
	reader := k8syaml.NewYAMLReader(bufio.NewReader(in))
	var results []Result
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return results, nil
		}
		if err != nil {
			return nil, err
		}
		source := sourceOf(doc)
		// Strict: a key that appears twice in one mapping is an error, as in the API server.
		data, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			results = append(results, Result{Source: source, Errors: []string{err.Error()}})
			continue
		}
		if strings.TrimSpace(string(data)) == "null" {
			continue // an empty document (comments only)
		}
		results = append(results, validateObject(decoder, source, data))
	}
}

// sourceOf reads the `# Source: chart/templates/file.yaml` comment helm puts above each document.
func sourceOf(doc []byte) string {
	for _, line := range strings.Split(string(doc), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "# Source: "); ok {
			return s
		}
	}
	return ""
}

func validateObject(decoder runtime.Decoder, source string, data []byte) Result {
	r := Result{Source: source, Errors: []string{}}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(data, &head)
	r.APIVersion, r.Kind, r.Name = head.APIVersion, head.Kind, head.Metadata.Name

	obj, _, err := decoder.Decode(data, nil, nil)
	if err != nil {
		// With strict decoding on, unknown and duplicate fields come back as a strict decoding error
		// next to a decoded object: an error all the same.
		r.Errors = append(r.Errors, err.Error())
		return r
	}
	r.Errors = append(r.Errors, errs(semanticErrors(obj))...)
	return r
}

func errs(list field.ErrorList) []string {
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, e.Error())
	}
	return out
}

// semanticErrors: what the API server's validation would refuse and the types cannot say.
func semanticErrors(obj runtime.Object) field.ErrorList {
	var all field.ErrorList
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	md := field.NewPath("metadata")
	if accessor.GetName() == "" {
		all = append(all, field.Required(md.Child("name"), "every object needs a name"))
	}
	nameCheck := utilvalidation.IsDNS1123Subdomain
	if _, ok := obj.(*corev1.Service); ok {
		nameCheck = utilvalidation.IsDNS1035Label // Service names are DNS labels (≤ 63)
	}
	for _, msg := range nameCheck(accessor.GetName()) {
		all = append(all, field.Invalid(md.Child("name"), accessor.GetName(), msg))
	}
	all = append(all, validation.ValidateLabels(accessor.GetLabels(), md.Child("labels"))...)
	all = append(all, apivalidation.ValidateAnnotations(accessor.GetAnnotations(), md.Child("annotations"))...)

	spec := field.NewPath("spec")
	switch o := obj.(type) {
	case *appsv1.Deployment:
		all = append(all, selectorMatches(o.Spec.Selector, o.Spec.Template.Labels, spec)...)
		all = append(all, podErrors(&o.Spec.Template.Spec, nil, spec.Child("template", "spec"))...)
	case *appsv1.StatefulSet:
		all = append(all, selectorMatches(o.Spec.Selector, o.Spec.Template.Labels, spec)...)
		if o.Spec.ServiceName == "" {
			all = append(all, field.Required(spec.Child("serviceName"), "a StatefulSet names its headless Service"))
		}
		claims := map[string]bool{}
		for i, c := range o.Spec.VolumeClaimTemplates {
			claims[c.Name] = true
			for _, msg := range utilvalidation.IsDNS1123Label(c.Name) {
				all = append(all, field.Invalid(spec.Child("volumeClaimTemplates").Index(i).Child("metadata", "name"), c.Name, msg))
			}
		}
		all = append(all, podErrors(&o.Spec.Template.Spec, claims, spec.Child("template", "spec"))...)
	case *batchv1.Job:
		all = append(all, podErrors(&o.Spec.Template.Spec, nil, spec.Child("template", "spec"))...)
	case *corev1.Service:
		for i, p := range o.Spec.Ports {
			all = append(all, portNameErrors(p.Name, spec.Child("ports").Index(i).Child("name"))...)
		}
	case *policyv1.PodDisruptionBudget:
		if o.Spec.Selector == nil {
			all = append(all, field.Required(spec.Child("selector"), "a PodDisruptionBudget without a selector selects nothing"))
		}
		if o.Spec.MinAvailable != nil && o.Spec.MaxUnavailable != nil {
			all = append(all, field.Invalid(spec, "", "minAvailable and maxUnavailable are mutually exclusive"))
		}
	case *monitoringv1.PrometheusRule:
		all = append(all, ruleErrors(o, spec)...)
	case *monitoringv1.ServiceMonitor:
		if len(o.Spec.Selector.MatchLabels)+len(o.Spec.Selector.MatchExpressions) == 0 {
			all = append(all, field.Required(spec.Child("selector"), "an empty selector scrapes every Service"))
		}
		for i, e := range o.Spec.Endpoints {
			ep := spec.Child("endpoints").Index(i)
			if e.Port == "" {
				all = append(all, field.Required(ep.Child("port"), "name the Service port to scrape"))
			}
			all = append(all, durationErrors(e.Interval, ep.Child("interval"))...)
			all = append(all, durationErrors(e.ScrapeTimeout, ep.Child("scrapeTimeout"))...)
		}
	case *autoscalingv2.HorizontalPodAutoscaler:
		if o.Spec.MinReplicas != nil && *o.Spec.MinReplicas > o.Spec.MaxReplicas {
			all = append(all, field.Invalid(spec.Child("minReplicas"), *o.Spec.MinReplicas, "above maxReplicas"))
		}
	}
	return all
}

func selectorMatches(selector *metav1.LabelSelector, labels map[string]string, spec *field.Path) field.ErrorList {
	if selector == nil || len(selector.MatchLabels)+len(selector.MatchExpressions) == 0 {
		return field.ErrorList{field.Required(spec.Child("selector"), "workloads need a non-empty selector")}
	}
	var all field.ErrorList
	for k, v := range selector.MatchLabels {
		if labels[k] != v {
			all = append(all, field.Invalid(spec.Child("template", "metadata", "labels"), labels,
				fmt.Sprintf("selector %s=%s does not match the pod template's labels", k, v)))
		}
	}
	return all
}

func podErrors(pod *corev1.PodSpec, claims map[string]bool, path *field.Path) field.ErrorList {
	var all field.ErrorList
	volumes := map[string]bool{}
	for k := range claims {
		volumes[k] = true
	}
	for i, v := range pod.Volumes {
		if volumes[v.Name] {
			all = append(all, field.Duplicate(path.Child("volumes").Index(i).Child("name"), v.Name))
		}
		volumes[v.Name] = true
	}
	containers := map[string]bool{}
	check := func(kind string, list []corev1.Container) {
		for i, c := range list {
			cp := path.Child(kind).Index(i)
			for _, msg := range utilvalidation.IsDNS1123Label(c.Name) {
				all = append(all, field.Invalid(cp.Child("name"), c.Name, msg))
			}
			if containers[c.Name] {
				all = append(all, field.Duplicate(cp.Child("name"), c.Name))
			}
			containers[c.Name] = true
			if c.Image == "" {
				all = append(all, field.Required(cp.Child("image"), ""))
			}
			for j, p := range c.Ports {
				all = append(all, portNameErrors(p.Name, cp.Child("ports").Index(j).Child("name"))...)
			}
			for j, e := range c.Env {
				for _, msg := range utilvalidation.IsEnvVarName(e.Name) {
					all = append(all, field.Invalid(cp.Child("env").Index(j).Child("name"), e.Name, msg))
				}
			}
			for j, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					all = append(all, field.NotFound(cp.Child("volumeMounts").Index(j).Child("name"), m.Name))
				}
			}
		}
	}
	check("initContainers", pod.InitContainers)
	check("containers", pod.Containers)
	if len(pod.Containers) == 0 {
		all = append(all, field.Required(path.Child("containers"), ""))
	}
	return all
}

// durationPattern is the pattern of monitoringv1.Duration in prometheus-operator's CRDs (the Go type
// is a plain string: the API server checks the pattern from the CRD's OpenAPI schema).
var durationPattern = regexp.MustCompile(`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)

func durationErrors(d monitoringv1.Duration, path *field.Path) field.ErrorList {
	if d == "" || durationPattern.MatchString(string(d)) {
		return nil
	}
	return field.ErrorList{field.Invalid(path, d, "not a Prometheus duration")}
}

// ruleErrors: what Prometheus refuses when it loads a rule file (the expressions themselves are
// checked by promtool in the deploy/prometheus tests).
func ruleErrors(rule *monitoringv1.PrometheusRule, spec *field.Path) field.ErrorList {
	var all field.ErrorList
	groups := map[string]bool{}
	for i, g := range rule.Spec.Groups {
		gp := spec.Child("groups").Index(i)
		if g.Name == "" || groups[g.Name] {
			all = append(all, field.Invalid(gp.Child("name"), g.Name, "group names are required and unique"))
		}
		groups[g.Name] = true
		for j, r := range g.Rules {
			rp := gp.Child("rules").Index(j)
			if (r.Alert == "") == (r.Record == "") {
				all = append(all, field.Invalid(rp, r.Alert+r.Record, "a rule has exactly one of alert and record"))
			}
			if r.Expr.String() == "" {
				all = append(all, field.Required(rp.Child("expr"), ""))
			}
			if r.For != nil {
				all = append(all, durationErrors(*r.For, rp.Child("for"))...)
			}
		}
	}
	return all
}

func portNameErrors(name string, path *field.Path) field.ErrorList {
	if name == "" {
		return nil
	}
	var all field.ErrorList
	for _, msg := range utilvalidation.IsValidPortName(name) {
		all = append(all, field.Invalid(path, name, msg))
	}
	return all
}
