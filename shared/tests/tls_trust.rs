//! The functions' TLS trust (`rappel::aws::lambda_https_client`): only Amazon Trust Services
//! roots, plus the PEM bundle `AWS_CA_BUNDLE` names. An HTTPS endpoint whose certificate
//! comes from another CA is refused before any request leaves; the same endpoint is reached
//! once its CA is in the bundle. (Every AWS endpoint chains to those roots; an HTTPS
//! emulator or a TLS-inspecting proxy needs the bundle.)

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use std::io::Write;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A DynamoDB-shaped HTTPS endpoint on 127.0.0.1 ("localhost") with a certificate from a CA of
/// its own; answers every request `ResourceNotFoundException`. Returns its port and the CA.
async fn endpoint() -> (u16, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate ends the handshake here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 16 * 1024];
                let _ = tls.read(&mut buf).await;
                let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no such table"}"#;
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, ca.pem())
}

fn client(port: u16, ca_bundle: Option<&str>) -> aws_sdk_dynamodb::Client {
    let vars = [
        ("AWS_REGION", "eu-west-3".to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_ENDPOINT_URL", format!("https://localhost:{port}")),
        ("AWS_CA_BUNDLE", ca_bundle.unwrap_or_default().to_string()),
    ];
    let config = rappel::aws::sdk_config_from(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    });
    aws_sdk_dynamodb::Client::new(&config)
}

async fn describe(client: &aws_sdk_dynamodb::Client) -> String {
    let err = client
        .describe_table()
        .table_name("rappel")
        .send()
        .await
        .expect_err("the endpoint never answers a table");
    format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&err)
    )
}

#[tokio::test]
async fn only_amazon_roots_are_trusted_unless_a_bundle_adds_a_ca() {
    let (port, ca_pem) = endpoint().await;

    // Amazon Trust Services only: the handshake fails on the certificate's issuer.
    let refused = describe(&client(port, None)).await;
    assert!(refused.contains("UnknownIssuer"), "{refused}");

    // The same CA in AWS_CA_BUNDLE: the request goes through and the service answers.
    let dir = std::env::temp_dir().join(format!("rappel-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = dir.join("ca.pem");
    std::fs::File::create(&bundle)
        .unwrap()
        .write_all(ca_pem.as_bytes())
        .unwrap();
    let reached = describe(&client(port, Some(bundle.to_str().unwrap()))).await;
    assert!(reached.contains("ResourceNotFoundException"), "{reached}");

    // A bundle that cannot be used is skipped whole (logged), never a crash: unreadable,
    // broken PEM, no certificate in it (a DER file), a block that is no certificate.
    let mut bad = vec!["/nonexistent/ca.pem".to_string()];
    for (name, content) in [
        (
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".to_vec(),
        ),
        ("ca.der", ca_pem.replace("-----", "").into_bytes()),
        (
            "short.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        ),
        (
            "half.pem",
            [ca_pem.as_bytes(), b"-----BEGIN CERTIFICATE-----\nAAAA\n"].concat(),
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        bad.push(path.to_str().unwrap().to_string());
    }
    for bundle in &bad {
        let refused = describe(&client(port, Some(bundle))).await;
        assert!(refused.contains("UnknownIssuer"), "{bundle}: {refused}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
