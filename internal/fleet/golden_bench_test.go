package fleet

import (
	"fmt"
	"testing"

	"vigil/merkle"
)

// syntheticTree returns a tree of n files in directories of 100 (dirs of
// 10 subdirectories), in path order, as a /usr would be shaped.
func syntheticTree(n int) []*merkle.Entry {
	dir := func(p string) *merkle.Entry {
		return &merkle.Entry{Path: p, Type: merkle.TypeDir, Perm: 0o755, Attrs: merkle.AttrAll}
	}
	es := []*merkle.Entry{dir("/"), dir("/usr")}
	for a := 0; a*10000 < n; a++ {
		pa := fmt.Sprintf("/usr/a%02d", a)
		es = append(es, dir(pa))
		for b := 0; b < 10 && a*10000+b*1000 < n; b++ {
			pb := fmt.Sprintf("%s/b%02d", pa, b)
			es = append(es, dir(pb))
			for c := 0; c < 10; c++ {
				pc := fmt.Sprintf("%s/c%02d", pb, c)
				es = append(es, dir(pc))
				for f := 0; f < 100; f++ {
					e := &merkle.Entry{Path: fmt.Sprintf("%s/f%03d", pc, f), Type: merkle.TypeFile, Perm: 0o644, Size: 100,
						HashState: merkle.HashOK, Attrs: merkle.AttrAll}
					e.Hash[0], e.Hash[1], e.Hash[2] = byte(a), byte(b*10+c), byte(f)
					es = append(es, e)
				}
			}
		}
	}
	return es
}

// putTree uploads the manifests of es that nodes lacks, as a host does,
// and returns the portable root and how many it put.
func putTree(b *testing.B, nodes *Nodes, es []*merkle.Entry) (merkle.Hash, int) {
	kids := map[string][]merkle.Node{}
	put := 0
	pb := merkle.NewPortableBuilder(Keep, func(n merkle.Node) error {
		if n.Entry.Path != "/" {
			p := merkle.Parent(n.Entry.Path)
			kids[p] = append(kids[p], n)
		}
		if n.Entry.Type != merkle.TypeDir {
			return nil
		}
		m := merkle.NewManifest(n.Entry, Keep, kids[n.Entry.Path])
		delete(kids, n.Entry.Path)
		if ok, err := nodes.Has(b.Context(), n.Hash); err != nil || ok {
			return err
		}
		raw, err := m.Encode(Keep)
		if err != nil {
			return err
		}
		put++
		return nodes.Put(b.Context(), n.Hash, raw)
	})
	for _, e := range es {
		if err := pb.Add(e); err != nil {
			b.Fatal(err)
		}
	}
	root, err := pb.Finish()
	if err != nil {
		b.Fatal(err)
	}
	return root, put
}

// BenchmarkFleetDiff: two hosts of 100,000 files (1,111 directories each
// on a single-node JetStream) that differ in 10 files: what fleet diff
// fetches and reads, and its time; and what 20 identical hosts store
// against one.
func BenchmarkFleetDiff(b *testing.B) {
	ns := startNATS(b)
	c := connect(b, ns.ClientURL())
	if err := c.Init(b.Context(), 1); err != nil {
		b.Fatal(err)
	}
	nodes, err := c.Nodes(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	a := syntheticTree(100_000)
	ra, first := putTree(b, nodes, a)
	bytesOne := storeBytes(b, nodes)
	for range 19 {
		if _, put := putTree(b, nodes, syntheticTree(100_000)); put != 0 {
			b.Fatalf("an identical host put %d manifests", put)
		}
	}
	ratio := float64(storeBytes(b, nodes)) / float64(bytesOne)
	other := syntheticTree(100_000)
	changed := 0
	for i := 7; changed < 10; i += 9973 {
		if other[i].Type == merkle.TypeFile {
			other[i].Hash[5] ^= 1
			changed++
		}
	}
	rb, _ := putTree(b, nodes, other)
	b.ResetTimer()
	var fetched int
	var read int64
	for b.Loop() {
		n := 0
		used, err := c.DiffRoots(b.Context(), ra, rb, func(merkle.Change) error { n++; return nil })
		if err != nil || n != 10 {
			b.Fatalf("DiffRoots = %d changes, %v; want 10", n, err)
		}
		fetched, read = used.Fetched, used.Bytes
	}
	b.ReportMetric(float64(fetched), "nodes/op")
	b.ReportMetric(float64(read), "bytes-read/op")
	b.ReportMetric(float64(first), "manifests/host")
	b.ReportMetric(ratio, "store-20-hosts/one")
}

func storeBytes(b *testing.B, nodes *Nodes) int64 {
	st, err := nodes.os.Status(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	return int64(st.Size())
}
