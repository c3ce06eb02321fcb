//! The browser benchmark's Rust half (`scripts/browser-bench.sh`): request latency and
//! publish rate of `nats-web`, called from the bench page, which measures nats.js the same
//! way in the same page against the same server. On other targets this example is empty.
//!
//! Each client answers its own requests on a second connection in the page, so a round
//! trip goes through the measured client twice (requester and responder), as it does in an
//! application that uses one client for both.

#![cfg_attr(not(target_arch = "wasm32"), allow(unused))]

#[cfg(target_arch = "wasm32")]
mod bench {
    use futures_util::StreamExt;
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;

    fn js_error(error: impl std::fmt::Display) -> JsValue {
        JsValue::from_str(&error.to_string())
    }

    /// `n` requests of `size` bytes, one after another, answered by a responder on a
    /// second connection; returns each round trip in milliseconds.
    #[wasm_bindgen]
    #[allow(unreachable_pub)] // exported to JS
    pub async fn rust_requests(url: String, n: u32, size: u32) -> Result<Vec<f64>, JsValue> {
        let client = nats_web::connect(&url).await.map_err(js_error)?;
        let responder = nats_web::connect(&url).await.map_err(js_error)?;
        let subject = format!("bench.rs.echo.{}", client.new_token());
        let mut requests = responder.subscribe(subject.as_str()).await.map_err(js_error)?;
        responder.flush().await.map_err(js_error)?;
        let answering = responder.clone();
        wasm_bindgen_futures::spawn_local(async move {
            while let Some(request) = requests.next().await {
                if let Some(reply) = request.reply {
                    let _ = answering.publish(reply, request.payload).await;
                }
            }
        });
        let payload = bytes_of(size);
        let mut latencies = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let started = client.now();
            client.request(subject.as_str(), payload.clone()).await.map_err(js_error)?;
            latencies.push((client.now() - started).as_secs_f64() * 1000.0);
        }
        client.close().await;
        responder.close().await;
        Ok(latencies)
    }

    /// Publishes `n` messages of `size` bytes, then flushes (the server has them all);
    /// returns messages per second.
    #[wasm_bindgen]
    #[allow(unreachable_pub)] // exported to JS
    pub async fn rust_publish(url: String, n: u32, size: u32) -> Result<f64, JsValue> {
        let client = nats_web::connect(&url).await.map_err(js_error)?;
        let payload = bytes_of(size);
        let started = client.now();
        for _ in 0..n {
            client.publish("bench.rs.pub", payload.clone()).await.map_err(js_error)?;
        }
        client.flush().await.map_err(js_error)?;
        let seconds = (client.now() - started).as_secs_f64();
        client.close().await;
        Ok(f64::from(n) / seconds)
    }

    fn bytes_of(size: u32) -> bytes::Bytes {
        (0..size).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>().into()
    }
}
