// The tutorial's Go server, as typed there; only its port is configurable (PORT, default 8080)
// so the benchmark can run it beside the others.
package main

import (
	"io"
	"net/http"
	"os"
)

func handler(w http.ResponseWriter, req *http.Request) {
	host, err := os.Hostname()
	if err != nil {
		io.WriteString(w, "unknown")
	} else {
		io.WriteString(w, host)
	}
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/who", handler)
	http.ListenAndServe(":"+port, nil)
}
