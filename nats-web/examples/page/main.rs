//! The example page's app: connects to nats-server over WebSocket from the browser, then
//! shows subscribe, publish and request/reply (with a responder on a second connection)
//! in a log on the page, and a live view of a key-value bucket: a table that a watch keeps
//! current, whoever writes to the bucket (this page, another tab, `nats kv put`).
//!
//! Built for wasm32 and bound with `wasm-bindgen --target web` by `scripts/web-demo.sh`,
//! which also starts nats-server with a WebSocket listener and serves the page. The server
//! URL comes from the page's `?server=ws://...` parameter. On other targets this example
//! is empty.

#![cfg_attr(not(target_arch = "wasm32"), allow(unused))]

#[cfg(target_arch = "wasm32")]
mod app {
    use std::time::Duration;

    use futures_util::StreamExt;
    use wasm_bindgen::prelude::wasm_bindgen;

    /// Appends a line to the page's log (and the console).
    fn log(line: &str) {
        web_sys::console::log_1(&line.into());
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        if let Some(element) = document.get_element_by_id("log") {
            let text = element.text_content().unwrap_or_default();
            element.set_text_content(Some(&format!("{text}{line}\n")));
        }
    }

    fn set_status(status: &str) {
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            if let Some(element) = document.get_element_by_id("status") {
                element.set_text_content(Some(status));
                element.set_class_name(status);
            }
            document.set_title(&format!("nats-web demo: {status}"));
        }
    }

    fn server_url() -> String {
        web_sys::window()
            .and_then(|w| w.location().search().ok())
            .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok())
            .and_then(|params| params.get("server"))
            .unwrap_or_else(|| "ws://127.0.0.1:8080".to_owned())
    }

    async fn run() -> Result<(), Box<dyn std::error::Error>> {
        let url = server_url();
        log(&format!("connecting to {url} ..."));
        let client = nats_web::connect(&url).await?;
        let info = client.server_info().map(|i| format!("nats-server {}", i.version)).unwrap_or_default();
        log(&format!(
            "connected to {} ({info})",
            client.connected_url().map(|u| u.to_string()).unwrap_or_default()
        ));

        // A responder on a second connection in the same page.
        let responder = nats_web::connect(&url).await?;
        let mut requests = responder.subscribe("demo.time").await?;
        responder.flush().await?;
        wasm_bindgen_futures::spawn_local(async move {
            while let Some(request) = requests.next().await {
                let Some(reply_to) = request.reply.clone() else { continue };
                let answer = format!("pong to {}", String::from_utf8_lossy(&request.payload));
                let _ = responder.publish(reply_to.as_str(), answer.into()).await;
            }
        });

        let mut subscriber = client.subscribe("demo.greet.*").await?;
        log("subscribed to demo.greet.*");
        for name in ["alice", "bob", "carol"] {
            let subject = format!("demo.greet.{name}");
            client.publish(subject.as_str(), format!("hello {name}").into()).await?;
            log(&format!("published to {subject}: \"hello {name}\""));
        }
        client.flush().await?;
        for _ in 0..3 {
            let message = subscriber.next().await.ok_or("the subscription ended")?;
            log(&format!("received on {}: {:?}", message.subject, String::from_utf8_lossy(&message.payload)));
        }

        let started = client.now();
        let reply = client.request_with("demo.time", None, "ping".into(), Duration::from_secs(5)).await?;
        log(&format!(
            "request demo.time \"ping\" -> reply {:?} in {:.1} ms",
            String::from_utf8_lossy(&reply.payload),
            (client.now() - started).as_secs_f64() * 1000.0
        ));
        let stats = client.statistics();
        log(&format!("statistics: {} messages out, {} in", stats.out_msgs, stats.in_msgs));
        client.drain().await?;
        log("drained: done");
        live_view(&url).await
    }

    /// The key-value live view: watches the bucket `demo_live` and keeps the table
    /// `#live` showing each key's value and revision; then writes a few values itself.
    /// The watch goes on after that (and across reconnects): write to the bucket from
    /// anywhere and the table follows.
    async fn live_view(url: &str) -> Result<(), Box<dyn std::error::Error>> {
        use nats_stores::{Config, KeyValueExt, Operation};

        let js = nats_jetstream::new(nats_web::connect(url).await?);
        let kv = js.create_key_value(Config::new("demo_live").history(5)).await?;
        let mut watch = kv.watch_all().await?;
        let (seen_tx, mut seen_rx) = futures_channel::mpsc::unbounded::<u64>();
        wasm_bindgen_futures::spawn_local(async move {
            let mut rows = std::collections::BTreeMap::new();
            while let Some(Ok(entry)) = watch.next().await {
                if entry.operation == Operation::Put {
                    let value = String::from_utf8_lossy(&entry.value).into_owned();
                    rows.insert(entry.key.clone(), (value, entry.revision));
                } else {
                    rows.remove(&entry.key);
                }
                render(&rows);
                let _ = seen_tx.unbounded_send(entry.revision);
            }
        });
        log("live view: watching key-value bucket demo_live");
        let page = js.client().new_token();

        for tick in 1..=5 {
            kv.put(&format!("page.{}", &page[..6]), format!("tick {tick}").into()).await?;
            js.client().sleep_until(js.client().now() + Duration::from_millis(200)).await;
        }
        let last = kv.put("updated", nats_web::rfc3339::format(js.client().system_time()).into()).await?;
        while let Some(revision) = seen_rx.next().await {
            if revision >= last {
                break;
            }
        }
        log("live view: the table follows every change of the bucket");
        Ok(())
    }

    /// Draws the bucket's current keys into the table `#live`.
    fn render(rows: &std::collections::BTreeMap<String, (String, u64)>) {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        let Some(table) = document.get_element_by_id("live") else { return };
        let mut html = String::from("<tr><th>key</th><th>value</th><th>revision</th></tr>");
        for (key, (value, revision)) in rows {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{revision}</td></tr>",
                escape(key),
                escape(value)
            ));
        }
        table.set_inner_html(&html);
    }

    /// Escapes text for HTML: the values come from anyone who can write to the bucket.
    fn escape(text: &str) -> String {
        text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
    }

    /// The page calls this once the module is loaded.
    #[wasm_bindgen]
    #[allow(unreachable_pub)] // exported to JS
    pub fn start() {
        set_status("running");
        wasm_bindgen_futures::spawn_local(async {
            match run().await {
                Ok(()) => set_status("ok"),
                Err(error) => {
                    log(&format!("error: {error}"));
                    set_status("failed");
                }
            }
        });
    }
}
