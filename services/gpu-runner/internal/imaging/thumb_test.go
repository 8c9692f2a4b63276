package imaging

import (
	"testing"

	"cyberimage/shared/s3layout"
)

// A thumbnail keeps the aspect and averages what each pixel covers: a
// picture half black, half white stays half and half.
func TestThumbnailAveragesAndKeepsAspect(t *testing.T) {
	w, h := 1024, 512
	rgb := make([]byte, w*h*3)
	for y := range h {
		for x := w / 2; x < w; x++ {
			p := (y*w + x) * 3
			rgb[p], rgb[p+1], rgb[p+2] = 255, 255, 255
		}
	}
	tw, th := s3layout.ThumbSize(w, h)
	if tw != 256 || th != 128 {
		t.Fatalf("thumb size %dx%d, want 256x128", tw, th)
	}
	thumb := Thumbnail(w, h, rgb, tw, th)
	if len(thumb) != tw*th*3 {
		t.Fatalf("%d bytes", len(thumb))
	}
	left, right := thumb[(10*tw+10)*3], thumb[(10*tw+200)*3]
	if left != 0 || right != 255 {
		t.Fatalf("left %d right %d, want 0 and 255", left, right)
	}
	if s3layout.HasThumb(256, 256) || !s3layout.HasThumb(264, 64) {
		t.Fatal("only images larger than 256 px get a thumbnail")
	}
	if tw, th := s3layout.ThumbSize(72, 2048); tw != 9 || th != 256 {
		t.Fatalf("tall: %dx%d", tw, th)
	}
}
