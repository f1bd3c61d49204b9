package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// wordFreq counts words per line, the way a first Go program does.
type wordFreq map[string]int

func (w wordFreq) add(line string) {
	for _, f := range strings.Fields(line) {
		w[strings.ToLower(strings.Trim(f, ".,;:!?\"'()"))]++
	}
}

func main() {
	freq := wordFreq{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		freq.add(sc.Text())
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "read: %v\n", err)
		os.Exit(1)
	}
	ch := make(chan int, 3)
	go func() { defer close(ch); for i := 0; i < 3; i++ { ch <- i << 2 } }()
	for v := range ch {
		fmt.Printf("%d:%q\t%x\n", v, fmt.Sprint(v), v&0xff)
	}
}
