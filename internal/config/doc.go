// Package config reads vigil's configuration file: which trees to watch,
// what to leave out, which attributes to monitor where, and where the
// baselines live.
//
// The file is TOML; [DefaultText] is a fully commented example and the
// reference for every key. [Load] and [Parse] decode and validate a file in
// one go and report every problem at once, each a *[Problem] formatted as
// FILE:LINE: key: message, joined with errors.Join. Unknown keys and values
// of the wrong type are problems too. Keys the file leaves out take their
// defaults ([DefaultDatabase], [DefaultKeep], nothing excluded, no rules,
// no size limit, scanner-chosen worker counts); roots have no default.
//
// # Matching
//
// [Config.Matcher] compiles the exclude and rule patterns (doublestar globs
// on absolute paths) into a [Matcher]. A path matching an exclude pattern is
// excluded; otherwise it is monitored for every attribute
// ([merkle.AttrAll]) unless rules match it, in which case the last matching
// rule decides. Matching is meant to run once per file on trees of millions
// of files: brace alternatives are expanded where that keeps the meaning
// ("/etc/{a,b}" becomes two literals), literal patterns are looked up in a
// map, "/dir/**" and "/dir/**/name-glob" patterns are reduced to prefix tests
// and a match of the last path element, and other globs are only handed to
// doublestar when the path has the glob's literal prefix and suffix. A fuzz
// test holds all of this to doublestar.Match's answers.
//
// # Caveats
//
// BurntSushi/toml v1.6 tracks the position of every key but does not export
// it: its MetaData offers only key names, types and undecoded keys, and
// positions appear only in syntax errors. The lines in problems therefore
// come from a small scanner in this package that re-reads the accepted text
// and records where each key, table header and array element starts. Should
// it fail to place a key (a quoted key spelled with an escape Go does not
// know), the problem carries the line of the nearest enclosing key.
//
// A pattern "/dir/**" matches /dir itself as well as everything below it.
// [Matcher.Match] judges a path alone and does not look at its parents: the
// scanner never descends into an excluded directory, so excluding a
// directory excludes its subtree, but asking Match about a path below an
// excluded directory can answer "not excluded" when no pattern matches the
// path itself.
//
// [Config.Digest] covers the effective configuration, not the text, so that
// reformatting a file does not change it; it does change with anything that
// changes behaviour, including rule names and worker counts.
package config
