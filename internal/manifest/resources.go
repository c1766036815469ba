package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Bounds on resources: below them an agent cannot start a shell; above
// them a value is a typo.
const (
	MinMemory = 64 << 20
	MinPids   = 16
	MaxPids   = 1 << 22
	MaxCPUs   = 1024
)

// ParseMemory reads a memory size: bytes, or a number with k, m or g
// (powers of 1024, upper or lower case, an optional trailing b or ib).
func ParseMemory(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a memory size (bytes, or a whole number with k, m or g, such as 512m)", s)
	}
	return v * mult, nil
}

func validateResources(r *Resources) FieldErrors {
	if r == nil {
		return nil
	}
	var errs FieldErrors
	add := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if r.Memory != "" {
		if v, err := ParseMemory(r.Memory); err != nil {
			add("resources.memory", "%v", err)
		} else if v < MinMemory {
			add("resources.memory", "%q is below 64m: the agent could not start", r.Memory)
		}
	}
	if r.CPUs < 0 || r.CPUs > MaxCPUs || math.IsNaN(r.CPUs) {
		add("resources.cpus", "%v is not a number of CPUs between 0.01 and %d", r.CPUs, MaxCPUs)
	} else if r.CPUs != 0 && r.CPUs < 0.01 {
		add("resources.cpus", "%v is below 0.01 CPUs", r.CPUs)
	}
	if r.Pids != 0 && (r.Pids < MinPids || r.Pids > MaxPids) {
		add("resources.pids", "%d is not between %d and %d processes", r.Pids, MinPids, MaxPids)
	}
	return errs
}
