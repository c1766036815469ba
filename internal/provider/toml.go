package provider

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var bareKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// encodeTOML writes settings as TOML (Codex's config.toml): scalars and
// arrays of scalars as key = value, maps as [tables], keys sorted. TOML has
// no null and this writer no arrays of tables: both are errors.
func encodeTOML(m map[string]any) (string, error) {
	var b strings.Builder
	if err := tomlTable(&b, nil, m); err != nil {
		return "", err
	}
	return b.String(), nil
}

func tomlTable(b *strings.Builder, path []string, m map[string]any) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var tables []string
	for _, k := range keys {
		if _, ok := m[k].(map[string]any); ok {
			tables = append(tables, k)
			continue
		}
		v, err := tomlValue(m[k])
		if err != nil {
			return fmt.Errorf("settings %s: %w", strings.Join(append(slices.Clone(path), k), "."), err)
		}
		fmt.Fprintf(b, "%s = %s\n", tomlKey(k), v)
	}
	for _, k := range tables {
		sub := append(slices.Clone(path), k)
		quoted := make([]string, len(sub))
		for i, p := range sub {
			quoted[i] = tomlKey(p)
		}
		fmt.Fprintf(b, "\n[%s]\n", strings.Join(quoted, "."))
		if err := tomlTable(b, sub, m[k].(map[string]any)); err != nil {
			return err
		}
	}
	return nil
}

func tomlKey(k string) string {
	if bareKeyRE.MatchString(k) {
		return k
	}
	return tomlString(k)
}

// tomlString quotes s: JSON's escapes (\" \\ \n \uXXXX) are TOML's.
func tomlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func tomlValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return tomlString(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		switch {
		case math.IsNaN(v):
			return "nan", nil
		case math.IsInf(v, 1):
			return "inf", nil
		case math.IsInf(v, -1):
			return "-inf", nil
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		return s, nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			if _, ok := e.(map[string]any); ok {
				return "", fmt.Errorf("arrays of tables are not supported")
			}
			p, err := tomlValue(e)
			if err != nil {
				return "", err
			}
			parts[i] = p
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	case nil:
		return "", fmt.Errorf("TOML has no null")
	}
	return "", fmt.Errorf("cannot write a %T as TOML", v)
}
