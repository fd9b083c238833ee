package scanner

// joinName returns the path of name in directory dir: one allocation, the
// path's (name is converted in place).
func joinName(dir string, name []byte) string {
	if dir == "/" {
		return "/" + string(name)
	}
	return dir + "/" + string(name)
}
