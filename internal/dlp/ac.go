package dlp

// acMatcher is an Aho-Corasick automaton compiled to a dense DFA over byte
// classes, ASCII case-insensitive. One pass over the input finds every
// pattern occurrence; the inner loop is one table load per byte.
type acMatcher struct {
	cls      [256]uint8 // folded byte -> class
	stride   int32      // classes per state
	trans    []int32    // state*stride + class -> next state*stride
	outStart int32      // states (premultiplied) >= outStart have outputs
	outs     [][]int32  // (state/stride - outStart/stride) -> pattern ids ending here
	lens     []int      // pattern id -> length
	maxLen   int
}

func foldByte(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// newACMatcher builds a matcher; empty patterns are ignored.
func newACMatcher(patterns []string) *acMatcher {
	m := &acMatcher{lens: make([]int, len(patterns))}
	// Byte classes: every folded byte used in a pattern gets its own class.
	var used [256]bool
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			used[foldByte(p[i])] = true
		}
	}
	n := 1
	var classOf [256]uint8
	for b := 0; b < 256; b++ {
		if used[b] {
			classOf[b] = uint8(n)
			n++
		}
	}
	for b := 0; b < 256; b++ {
		m.cls[b] = classOf[foldByte(byte(b))]
	}
	stride := n
	// Trie over classes.
	type node struct {
		next []int32 // by class, -1 = none
		fail int32
		out  []int32
	}
	newNode := func() node {
		nx := make([]int32, stride)
		for i := range nx {
			nx[i] = -1
		}
		return node{next: nx}
	}
	nodes := []node{newNode()}
	for id, p := range patterns {
		m.lens[id] = len(p)
		m.maxLen = max(m.maxLen, len(p))
		if p == "" {
			continue
		}
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := m.cls[p[i]]
			if nodes[s].next[c] < 0 {
				nodes = append(nodes, newNode())
				nodes[s].next[c] = int32(len(nodes) - 1)
			}
			s = nodes[s].next[c]
		}
		nodes[s].out = append(nodes[s].out, int32(id))
	}
	// BFS: fail links and full transitions.
	queue := make([]int32, 0, len(nodes))
	for c := 0; c < stride; c++ {
		if t := nodes[0].next[c]; t >= 0 {
			nodes[t].fail = 0
			queue = append(queue, t)
		} else {
			nodes[0].next[c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := nodes[s].fail
		nodes[s].out = append(nodes[s].out, nodes[f].out...)
		for c := 0; c < stride; c++ {
			if t := nodes[s].next[c]; t >= 0 {
				nodes[t].fail = nodes[f].next[c]
				queue = append(queue, t)
			} else {
				nodes[s].next[c] = nodes[f].next[c]
			}
		}
	}
	// Renumber: states without outputs first, so a single compare says
	// "something ends here".
	perm := make([]int32, len(nodes))
	k := int32(0)
	for i := range nodes {
		if len(nodes[i].out) == 0 {
			perm[i] = k
			k++
		}
	}
	m.outStart = k * int32(stride)
	for i := range nodes {
		if len(nodes[i].out) > 0 {
			perm[i] = k
			m.outs = append(m.outs, nodes[i].out)
			k++
		}
	}
	m.stride = int32(stride)
	m.trans = make([]int32, len(nodes)*stride)
	for i := range nodes {
		base := perm[i] * int32(stride)
		for c := 0; c < stride; c++ {
			m.trans[base+int32(c)] = perm[nodes[i].next[c]] * int32(stride)
		}
	}
	return m
}

// acHit is one pattern occurrence: text[End-len(pattern):End].
type acHit struct {
	Pattern int32
	End     int
}

// acState carries the automaton across chunks of a stream.
type acState int32

// scan feeds text starting at state st, appends hits (End relative to
// text start plus base) and returns the new state.
func (m *acMatcher) scan(st acState, text []byte, base int, hits []acHit) (acState, []acHit) {
	s := int32(st)
	trans, cls, outStart := m.trans, &m.cls, m.outStart
	for i, b := range text {
		s = trans[s+int32(cls[b])]
		if s >= outStart {
			for _, p := range m.outs[(s-outStart)/m.stride] {
				hits = append(hits, acHit{Pattern: p, End: base + i + 1})
			}
		}
	}
	return acState(s), hits
}

// contains reports whether any pattern occurs in text.
func (m *acMatcher) contains(text []byte) bool {
	s := int32(0)
	for _, b := range text {
		s = m.trans[s+int32(m.cls[b])]
		if s >= m.outStart {
			return true
		}
	}
	return false
}

// lanes: scanAll runs this many copies of the automaton over separate
// stretches of the text in one loop. Each step is a load that depends on
// the previous one; independent lanes let the CPU overlap them.
const lanes = 4

// scanAll finds every occurrence in text (hits in no particular order).
// It gives up, returning false, once more than limit hits are found.
func (m *acMatcher) scanAll(text []byte, hits []acHit, limit int) ([]acHit, bool) {
	q := len(text) / lanes
	ov := m.maxLen - 1
	if q < 4*ov || q < 256 {
		_, hits = m.scan(0, text, 0, hits)
		return hits, len(hits) <= limit
	}
	// Lane j reports the hits ending in (j*q, (j+1)*q]; it starts ov bytes
	// early so a pattern straddling the cut is still seen.
	var st [lanes]int32
	for j := 1; j < lanes; j++ {
		s, _ := m.scan(0, text[j*q-ov:j*q], 0, nil)
		st[j] = int32(s)
	}
	t0, t1, t2, t3 := text[:q], text[q:2*q], text[2*q:3*q], text[3*q:4*q]
	s0, s1, s2, s3 := st[0], st[1], st[2], st[3]
	trans, cls, outStart := m.trans, &m.cls, m.outStart
	for i := range t0 {
		s0 = trans[s0+int32(cls[t0[i]])]
		s1 = trans[s1+int32(cls[t1[i]])]
		s2 = trans[s2+int32(cls[t2[i]])]
		s3 = trans[s3+int32(cls[t3[i]])]
		if s0 >= outStart || s1 >= outStart || s2 >= outStart || s3 >= outStart {
			if len(hits) > limit {
				return hits, false
			}
			for j, s := range [lanes]int32{s0, s1, s2, s3} {
				if s >= outStart {
					for _, p := range m.outs[(s-outStart)/m.stride] {
						hits = append(hits, acHit{Pattern: p, End: j*q + i + 1})
					}
				}
			}
		}
	}
	_, hits = m.scan(acState(s3), text[4*q:], 4*q, hits)
	return hits, len(hits) <= limit
}
