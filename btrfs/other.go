//go:build !linux

package btrfs

// The calls below need Linux: they report [ErrUnsupported] elsewhere.

func OpenDir(path string) (int, error)                                     { return -1, ErrUnsupported }
func Is(path string) (bool, error)                                         { return false, nil }
func Top(path string) (string, error)                                      { return "", ErrUnsupported }
func GetSubvolInfo(fd int) (SubvolInfo, error)                             { return SubvolInfo{}, ErrUnsupported }
func Info(path string) (SubvolInfo, error)                                 { return SubvolInfo{}, ErrUnsupported }
func Syncfs(fd int) error                                                  { return ErrUnsupported }
func ReadOnly(fd int) (bool, error)                                        { return false, ErrUnsupported }
func SetReadOnly(fd int, ro bool) error                                    { return ErrUnsupported }
func DeleteSnapshot(path string) error                                     { return ErrUnsupported }
func Search(fd int, k Key, fn func(Item) error) error                      { return ErrUnsupported }
func ChangedInodes(fd int, tree, since uint64, fn func(Inode) error) error { return ErrUnsupported }
func InoPaths(fd int, ino uint64) ([]string, error)                        { return nil, ErrUnsupported }
func InoLookup(fd int, tree, ino uint64) (string, error)                   { return "", ErrUnsupported }
func Trust(r Recorded) error                                               { return ErrUnsupported }
func Snapshot(src, dst string, readonly bool) error                        { return ErrUnsupported }
func Create(path string) error                                             { return ErrUnsupported }
