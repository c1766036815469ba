package tui

// diffOp marks a line of a diff.
type diffOp byte

const (
	same diffOp = ' '
	add  diffOp = '+'
	del  diffOp = '-'
)

type diffLine struct {
	op   diffOp
	text string
}

// maxDiffCells bounds the LCS table; larger inputs are shown as all
// removed then all added, which is still correct, only less readable.
const maxDiffCells = 1_000_000

// lineDiff is a line diff of a and b by longest common subsequence.
func lineDiff(a, b []string) []diffLine {
	n, m := len(a), len(b)
	if n*m > maxDiffCells {
		out := make([]diffLine, 0, n+m)
		for _, l := range a {
			out = append(out, diffLine{del, l})
		}
		for _, l := range b {
			out = append(out, diffLine{add, l})
		}
		return out
	}
	// lcs[i][j] is the LCS length of a[i:] and b[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffLine
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			out = append(out, diffLine{same, a[i]})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, diffLine{del, a[i]})
			i++
		default:
			out = append(out, diffLine{add, b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, diffLine{del, a[i]})
	}
	for ; j < m; j++ {
		out = append(out, diffLine{add, b[j]})
	}
	return out
}
