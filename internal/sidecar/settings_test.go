package sidecar

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseSettings(t *testing.T) {
	got, err := ParseSettings(envOf(map[string]string{
		EnvDaemons:                 "egress, supervise,dns,git-gate",
		EnvSuperviseSlug:           "impl-k3x9q",
		EnvSuperviseQueueDir:       "/q",
		EnvSupervisePort:           "9200",
		EnvGitleaksAllowTimeout:    "30",
		EnvEgressTokenAllowTimeout: "600",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		Daemons:                 []string{"egress", "supervise", "dns", "git-gate"},
		Slug:                    "impl-k3x9q",
		QueueDir:                "/q",
		SupervisePort:           9200,
		GitleaksAllowTimeout:    30 * time.Second,
		EgressTokenAllowTimeout: 600 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}

func TestParseSettingsDefaults(t *testing.T) {
	got, err := ParseSettings(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		SupervisePort:           DefaultSupervisePort,
		GitleaksAllowTimeout:    DefaultHoldTimeout,
		EgressTokenAllowTimeout: DefaultHoldTimeout,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}

func TestParseSettingsRejectsInvalid(t *testing.T) {
	tests := map[string]struct {
		env  map[string]string
		want string
	}{
		"unknown daemon":   {map[string]string{EnvDaemons: "egress,sshd"}, `unknown daemon "sshd"`},
		"repeated daemon":  {map[string]string{EnvDaemons: "dns,dns"}, "listed twice"},
		"out of order":     {map[string]string{EnvDaemons: "dns,egress"}, "out of order"},
		"empty entry":      {map[string]string{EnvDaemons: "egress,,dns"}, "empty daemon name"},
		"bad slug":         {map[string]string{EnvSuperviseSlug: "../etc"}, "not a bottle slug"},
		"relative queue":   {map[string]string{EnvSuperviseQueueDir: "queue"}, "not an absolute path"},
		"port text":        {map[string]string{EnvSupervisePort: "http"}, "not a port"},
		"port range":       {map[string]string{EnvSupervisePort: "70000"}, "not a port"},
		"gitleaks text":    {map[string]string{EnvGitleaksAllowTimeout: "5m"}, EnvGitleaksAllowTimeout},
		"gitleaks zero":    {map[string]string{EnvGitleaksAllowTimeout: "0"}, EnvGitleaksAllowTimeout},
		"token negative":   {map[string]string{EnvEgressTokenAllowTimeout: "-1"}, EnvEgressTokenAllowTimeout},
		"token huge":       {map[string]string{EnvEgressTokenAllowTimeout: "99999999"}, EnvEgressTokenAllowTimeout},
		"token whitespace": {map[string]string{EnvEgressTokenAllowTimeout: " 30"}, EnvEgressTokenAllowTimeout},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSettings(envOf(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	base, err := ParseSettings(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	got, err := base.Complete([]string{"egress", "supervise", "dns"}, "impl-k3x9q")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"egress", "supervise", "dns"}, got.Daemons); diff != "" {
		t.Errorf("daemons (-want +got):\n%s", diff)
	}
	if got.Slug != "impl-k3x9q" {
		t.Errorf("slug %q", got.Slug)
	}

	env, err := ParseSettings(envOf(map[string]string{EnvDaemons: "dns"}))
	if err != nil {
		t.Fatal(err)
	}
	got, err = env.Complete([]string{"egress", "supervise", "dns"}, "")
	if err != nil {
		t.Fatalf("dns alone needs no slug: %v", err)
	}
	if diff := cmp.Diff([]string{"dns"}, got.Daemons); diff != "" {
		t.Errorf("the environment must win (-want +got):\n%s", diff)
	}

	for name, c := range map[string]struct {
		daemons []string
		slug    string
		want    string
	}{
		"nothing to run":  {nil, "impl-k3x9q", "no daemons"},
		"unknown in file": {[]string{"egress", "ftp"}, "impl-k3x9q", `unknown daemon "ftp"`},
		"no slug":         {[]string{"egress", "dns"}, "", "no bottle slug"},
		"bad file slug":   {[]string{"dns"}, "A B", "not a bottle slug"},
	} {
		if _, err := base.Complete(c.daemons, c.slug); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
}
