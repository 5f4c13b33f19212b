package pagecache

import (
	"bytes"
	"strings"
	"testing"
)

// BenchmarkEncodePage: what storing a page costs once per version, the
// body kept as it is and compressed (a 90 KB page, as 100 tasks make it).
func BenchmarkEncodePage(b *testing.B) {
	body := []byte(strings.Repeat(`<li class="list-group-item d-flex"><form method="post" action="/toggle"><input type="hidden" name="id" value="1234"><button class="btn btn-link">Task number 1234: file the expense report</button></form></li>`+"\n", 450))
	b.ReportAllocs()
	for b.Loop() {
		if e, err := decodePage(encodePage(body)); err != nil || !bytes.Equal(e.body, body) {
			b.Fatal("the page does not decode to its body", err)
		}
	}
}
