package clearing

import "testing"

// The cache never keeps an entry whose lookup began before an
// invalidation (it may have read the data the change replaced), and a new
// database version empties it.
func TestCacheStoresOnlyCurrentLookups(t *testing.T) {
	t.Parallel()
	var c cache
	e := cachedCommunity{row: Community{ID: "a", URI: "http://a"}}
	gen := c.begin()
	c.invalidate() // a change committed while the lookup read the database
	c.storeCommunity(gen, e)
	if _, ok := c.community("a"); ok {
		t.Fatal("lookup older than the invalidation: got an entry, want none")
	}
	gen = c.begin()
	c.seen(7) // another process's change, seen by a request meanwhile
	c.storeCommunity(gen, e)
	if _, ok := c.community("a"); ok {
		t.Fatal("lookup older than a new version: got an entry, want none")
	}
	c.storeCommunity(c.begin(), e)
	if got, ok := c.communityByURI("http://a"); !ok || got.row.ID != "a" {
		t.Fatalf("current lookup: got %v %v, want community a", got.row.ID, ok)
	}
	c.seen(7) // the same version: kept
	if _, ok := c.community("a"); !ok {
		t.Fatal("same version: got no entry, want a")
	}
	c.storeCircle(c.begin(), Circle{ID: "c"})
	c.seen(8)
	if _, ok := c.community("a"); ok {
		t.Error("after a new version: got a community, want none")
	}
	if _, ok := c.getCircle(); ok {
		t.Error("after a new version: got the circle, want none")
	}
	c.storeCommunity(c.begin(), e)
	c.invalidate()
	if _, ok := c.community("a"); ok {
		t.Error("after invalidate: got an entry, want none")
	}
}
