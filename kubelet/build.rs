//! Generates the CRI v1 client (RuntimeService, ImageService) from `proto/api.proto` with the system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/api.proto");
    tonic_prost_build::configure()
        .build_server(false)
        .compile_protos(&["proto/api.proto"], &["proto"])?;
    Ok(())
}
