package imaging

// Thumbnail scales 8-bit RGB pixels down to tw×th by averaging the source
// pixels each target pixel covers (a box filter: smooth enough for a
// gallery, and no dependency). tw and th must not exceed w and h.
func Thumbnail(w, h int, rgb []byte, tw, th int) []byte {
	out := make([]byte, tw*th*3)
	for ty := range th {
		y0, y1 := ty*h/th, max((ty+1)*h/th, ty*h/th+1)
		for tx := range tw {
			x0, x1 := tx*w/tw, max((tx+1)*w/tw, tx*w/tw+1)
			var r, g, b, n int
			for y := y0; y < y1; y++ {
				row := y * w * 3
				for x := x0; x < x1; x++ {
					p := row + x*3
					r, g, b = r+int(rgb[p]), g+int(rgb[p+1]), b+int(rgb[p+2])
					n++
				}
			}
			q := (ty*tw + tx) * 3
			out[q], out[q+1], out[q+2] = byte(r/n), byte(g/n), byte(b/n)
		}
	}
	return out
}
