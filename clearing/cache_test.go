package clearing

import "testing"

// The cache keeps an entry only while live, and never one whose lookup
// began before an invalidation (it may have read the data the change
// replaced).
func TestCacheStoresOnlyCurrentLookups(t *testing.T) {
	t.Parallel()
	var c cache
	e := cachedCommunity{row: Community{ID: "a", URI: "http://a"}}
	c.storeCommunity(c.begin(), e)
	if _, ok := c.community("a"); ok {
		t.Fatal("not live: got an entry, want none")
	}
	c.setLive(true)
	gen := c.begin()
	c.invalidate() // a change committed while the lookup read the database
	c.storeCommunity(gen, e)
	if _, ok := c.community("a"); ok {
		t.Fatal("lookup older than the invalidation: got an entry, want none")
	}
	c.storeCommunity(c.begin(), e)
	if got, ok := c.communityByURI("http://a"); !ok || got.row.ID != "a" {
		t.Fatalf("current lookup: got %v %v, want community a", got.row.ID, ok)
	}
	c.storeCircle(c.begin(), Circle{ID: "c"})
	c.invalidate()
	if _, ok := c.community("a"); ok {
		t.Error("after invalidate: got a community, want none")
	}
	if _, ok := c.getCircle(); ok {
		t.Error("after invalidate: got the circle, want none")
	}
	c.storeCommunity(c.begin(), e)
	c.setLive(false)
	if _, ok := c.community("a"); ok {
		t.Error("after the listener stopped: got an entry, want none")
	}
}
