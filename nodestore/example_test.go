package nodestore_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"

	"github.com/polykv/polykv/backends/memory"
	"github.com/polykv/polykv/nodestore"
)

// listing is the file system of the example: folder → entries (a trailing
// "/" marks a folder).
var listing = map[string][]string{
	"/":            {"docs/", "photos/", "readme.txt"},
	"/docs":        {"a.txt", "b.txt"},
	"/photos":      {"2024/", "cover.jpg"},
	"/photos/2024": {"x.jpg", "y.jpg", "z.jpg"},
}

// Example walks a small source tree the way the migration engine does:
// seed the root, pull pending folders page by page, complete each folder
// together with its children in one transaction, and count what is left.
func Example() {
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ns := nodestore.New(db)

	// Seed the root.
	err = ns.Insert(ctx, nodestore.Node{
		Queue: nodestore.QueueSrc, Level: 0,
		Traversal: nodestore.TraversalStatusPending, Copy: nodestore.CopyStatusPending,
		State: nodestore.NodeState{ID: "root", Name: "root", Path: "/", Type: nodestore.NodeTypeFolder},
	})
	if err != nil {
		log.Fatal(err)
	}

	for {
		level, ok, err := ns.LowestPendingLevel(ctx, nodestore.QueueSrc)
		if err != nil {
			log.Fatal(err)
		}
		if !ok {
			break // nothing left to list
		}
		var cur nodestore.Cursor
		for {
			page, next, err := ns.PendingPage(ctx, nodestore.QueueSrc, level, cur, 2)
			if err != nil {
				log.Fatal(err)
			}
			for _, folder := range page {
				var kids []nodestore.Node
				for _, e := range listing[folder.State.Path] {
					name, isDir := strings.CutSuffix(e, "/")
					st := nodestore.NodeState{
						ID: "id-" + name, ParentID: folder.State.ID, ParentPath: folder.State.Path,
						Name: name, Path: strings.TrimSuffix(folder.State.Path, "/") + "/" + name,
						Type: nodestore.NodeTypeFile, Depth: level + 1,
					}
					ts := nodestore.TraversalStatusSuccessful // files need no listing
					if isDir {
						st.Type, ts = nodestore.NodeTypeFolder, nodestore.TraversalStatusPending
					}
					kids = append(kids, nodestore.Node{Traversal: ts, Copy: nodestore.CopyStatusPending, State: st})
				}
				_, err := ns.CompleteWithChildren(ctx, nodestore.QueueSrc, folder.State.Path,
					nodestore.TraversalStatusSuccessful, kids)
				if err != nil {
					log.Fatal(err)
				}
			}
			cur = next
			if len(page) < 2 {
				break
			}
		}
		fmt.Printf("level %d listed\n", level)
	}

	counts, err := ns.Counts(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range counts {
		fmt.Printf("%s level %d: %d %s, copy %s\n", c.Queue, c.Level, c.N, c.Traversal, c.Copy)
	}
	kids, _ := ns.Children(ctx, nodestore.QueueSrc, "/photos/2024")
	fmt.Println("children of /photos/2024:", len(kids))
	// Output:
	// level 0 listed
	// level 1 listed
	// level 2 listed
	// src level 0: 1 successful, copy pending
	// src level 1: 3 successful, copy pending
	// src level 2: 4 successful, copy pending
	// src level 3: 3 successful, copy pending
	// children of /photos/2024: 3
}

// ExampleStore_CompleteBatch completes a page of pending nodes in one
// call: each folder with its children, each file with none. Every
// completion is atomic; one that fails (here, a parent that does not
// exist) applies nothing and leaves the others applied.
func ExampleStore_CompleteBatch() {
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ns := nodestore.New(db)
	P, S := nodestore.TraversalStatusPending, nodestore.TraversalStatusSuccessful
	node := func(path, parent string, depth int, typ nodestore.NodeType) nodestore.Node {
		name := path[strings.LastIndexByte(path, '/')+1:]
		if path == "/" {
			name = "root"
		}
		return nodestore.Node{Queue: nodestore.QueueSrc, Level: depth, Traversal: P, Copy: nodestore.CopyStatusPending,
			State: nodestore.NodeState{ID: path, Name: name, Path: path, ParentPath: parent, Type: typ, Depth: depth}}
	}
	for _, n := range []nodestore.Node{
		node("/", "", 0, nodestore.NodeTypeFolder),
		node("/docs", "/", 1, nodestore.NodeTypeFolder),
		node("/readme.txt", "/", 1, nodestore.NodeTypeFile),
	} {
		if err := ns.Insert(ctx, n); err != nil {
			log.Fatal(err)
		}
	}
	res, err := ns.CompleteBatch(ctx, nodestore.QueueSrc, []nodestore.Completion{
		{Path: "/docs", Status: S, Children: []nodestore.Node{
			node("/docs/a.txt", "/docs", 2, nodestore.NodeTypeFile),
			node("/docs/b.txt", "/docs", 2, nodestore.NodeTypeFile),
		}},
		{Path: "/readme.txt", Status: S}, // a file: its status only
		{Path: "/gone", Status: S},       // listed, then deleted
	})
	if err != nil {
		log.Fatal(err)
	}
	for i, r := range res {
		fmt.Printf("completion %d: %d children inserted, error: %v\n", i, r.Applied, r.Err)
	}
	left, _ := ns.PendingAt(ctx, nodestore.QueueSrc, 1)
	fmt.Println("pending at level 1:", left)
	// Output:
	// completion 0: 2 children inserted, error: <nil>
	// completion 1: 0 children inserted, error: <nil>
	// completion 2: 0 children inserted, error: nodestore: complete src "/gone": parent: nodestore: node not found (kv: key not found)
	// pending at level 1: 0
}

// ExampleStore_ChildrenMany compares a page of destination folders with
// their sources the way the engine's destination pass does: the source
// children of every folder of the page in one call (one snapshot, and on
// a networked store a few requests for the whole page), then a comparison
// per folder.
func ExampleStore_ChildrenMany() {
	ctx := context.Background()
	db, err := memory.Open(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	ns := nodestore.New(db)
	// The source tree of the listing above, already traversed.
	var ops []nodestore.InsertOperation
	add := func(path, parent string, depth int, typ nodestore.NodeType) {
		name := path[strings.LastIndexByte(path, '/')+1:]
		if path == "/" {
			name = "root"
		}
		ops = append(ops, nodestore.InsertOperation{QueueType: nodestore.QueueSrc, Level: depth,
			TraversalStatus: nodestore.TraversalStatusSuccessful, CopyStatus: nodestore.CopyStatusPending,
			State: &nodestore.NodeState{ID: path, Name: name, Path: path, ParentPath: parent, Type: typ, Depth: depth}})
	}
	add("/", "", 0, nodestore.NodeTypeFolder)
	for dir, entries := range listing {
		depth := strings.Count(dir, "/")
		if dir == "/" {
			depth = 0
		}
		for _, e := range entries {
			name, isDir := strings.CutSuffix(e, "/")
			typ := nodestore.NodeTypeFile
			if isDir {
				typ = nodestore.NodeTypeFolder
			}
			add(strings.TrimSuffix(dir, "/")+"/"+name, dir, depth+1, typ)
		}
	}
	if _, err := ns.BatchInsertNodes(ctx, ops); err != nil {
		log.Fatal(err)
	}

	// A page of destination folders, and what each holds on the destination.
	page := []string{"/docs", "/photos", "/photos/2024"}
	onDst := map[string][]string{"/docs": {"a.txt"}, "/photos": {"2024", "cover.jpg"}, "/photos/2024": {"x.jpg", "z.jpg"}}
	src, err := ns.ChildrenMany(ctx, nodestore.QueueSrc, page)
	if err != nil {
		log.Fatal(err)
	}
	for i, folder := range page {
		var missing []string
		for _, kid := range src[i] {
			if !slices.Contains(onDst[folder], kid.State.Name) {
				missing = append(missing, kid.State.Name)
			}
		}
		slices.Sort(missing)
		fmt.Printf("%s: %d on src, missing on dst: %v\n", folder, len(src[i]), missing)
	}
	// Output:
	// /docs: 2 on src, missing on dst: [b.txt]
	// /photos: 2 on src, missing on dst: []
	// /photos/2024: 3 on src, missing on dst: [y.jpg]
}
