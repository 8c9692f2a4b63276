module cyberimage/services/gpu-runner

go 1.26

replace cyberimage/shared => ../../shared

require (
	github.com/stretchr/testify v1.12.1
	github.com/yalue/onnxruntime_go v1.27.0
	google.golang.org/protobuf v1.36.12
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
