package config

import (
	"math"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, row := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "123", want: 123},
		{in: "17B", want: 17},
		{in: "4GB", want: 4e9},
		{in: "4gb", want: 4e9},
		{in: "1kB", want: 1000},
		{in: "1KB", want: 1000},
		{in: "512MiB", want: 512 << 20},
		{in: "512 MiB", want: 512 << 20},
		{in: " 2TiB ", want: 2 << 40},
		{in: "1PiB", want: 1 << 50},
		{in: "9223372036854775807", want: math.MaxInt64},
		{in: "8EiB", wantErr: true},
		{in: "9223372036854775808", wantErr: true},
		{in: "10000000PB", wantErr: true},
		{in: "", wantErr: true},
		{in: "MiB", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "1.5GiB", wantErr: true},
		{in: "1G", wantErr: true},
		{in: "1  MiB", wantErr: true},
		{in: "0x10", wantErr: true},
	} {
		got, err := ParseSize(row.in)
		if (err != nil) != row.wantErr || got != row.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", row.in, got, err, row.want, row.wantErr)
		}
	}
}
