package dlp

import "strings"

// Place labels are built from the request: a header name, a multipart
// part name, a JSON key. When the label is itself the secret, the finding
// would carry it into the log line, the refusal body and the proposal.
// scrubPlaces masks every secret a label holds; a label that cannot be
// checked is masked whole.
func (o *Outbound) scrubPlaces(fs []Finding) {
	named := map[string]bool{}
	for _, f := range fs {
		if f.Place == "header name" {
			named[f.Where] = true
		}
	}
	for i := range fs {
		f := &fs[i]
		if named[f.Where] {
			name := strings.TrimPrefix(f.Where, "header:")
			f.Where, f.Place = "header:"+labelMask, strings.ReplaceAll(f.Place, name, labelMask)
		}
		f.Where, f.Place = o.scrubLabel(f.Where), o.scrubLabel(f.Place)
	}
}

// scrubLabel masks what the scanner finds in s, read as is and lower- and
// upper-cased (a header name arrives canonicalised).
func (o *Outbound) scrubLabel(s string) string {
	if len(s) < MinSecretLen {
		return s
	}
	mask := make([]bool, len(s))
	for _, v := range []string{s, strings.ToLower(s), strings.ToUpper(s)} {
		if len(v) != len(s) {
			continue // a case change resized a non-ASCII rune
		}
		spans, _, err := o.scanText("label", []byte(v), nil)
		if err != nil {
			return labelMask
		}
		for _, sp := range spans {
			for j := max(0, sp.Start); j < min(len(s), sp.End); j++ {
				mask[j] = true
			}
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case !mask[i]:
			b.WriteByte(s[i])
		case i == 0 || !mask[i-1]:
			b.WriteString(labelMask)
		}
	}
	return b.String()
}

// labelMask replaces a secret in a place label, as in excerpts.
const labelMask = "***"
