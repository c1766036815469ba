package manifest

// bottleSource finds a bottle by name for extends.
type bottleSource interface {
	// bottle returns the parsed bottle and its file, or the problems that
	// stop it from loading. found is false when no such bottle exists.
	bottle(name string) (b *BottleFile, file string, found bool, ps Problems)
}

// dirBottleSource reads NAME.md from one directory.
type dirBottleSource struct{ dir string }

func (s dirBottleSource) bottle(name string) (*BottleFile, string, bool, Problems) {
	return nil, "", false, nil
}

// resolveBottle folds b's extends chain. (Filled in below.)
func resolveBottle(src bottleSource, name string, b *BottleFile, file string) (*BottleFile, Problems) {
	return b, nil
}
