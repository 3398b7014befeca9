module github.com/switchyardhq/switchyard

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
)
