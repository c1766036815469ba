//go:build race

package scan

// raceEnabled: the race detector slows gitleaks' detector about tenfold,
// so the equivalence tests run in scripts/test.sh's plain pass instead.
const raceEnabled = true
