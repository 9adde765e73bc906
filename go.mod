module github.com/loupehq/loupe

go 1.26.0

require (
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/crypto v0.59.0
)

require golang.org/x/sys v0.50.0 // indirect
