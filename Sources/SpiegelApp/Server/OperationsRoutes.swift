import Hummingbird
import NIOPosix
import Prometheus

/// `GET /healthz`, `GET /readyz` and `GET /metrics`: what an orchestrator and a Prometheus scraper
/// need. None of them carries personal data.
struct OperationsRoutes {
    let dataDirectory: DataDirectory
    let registry: PrometheusCollectorRegistry

    func add(to router: Router<BasicRequestContext>) {
        // Alive: the process answers HTTP.
        router.get("/healthz") { _, _ in
            JSONResponse.json(.ok, #"{"status":"ok"}"#)
        }
        // Ready: the configuration is loaded (it is, or the server would not run) and the data
        // directory takes writes.
        router.get("/readyz") { _, _ in
            let isWritable = try await NIOThreadPool.singleton.runIfActive { self.dataDirectory.isWritable() }
            guard isWritable else {
                return JSONResponse.json(.serviceUnavailable, #"{"status":"unavailable","reason":"the data directory is not writable"}"#)
            }
            return JSONResponse.json(.ok, #"{"status":"ready"}"#)
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(4096)
            self.registry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
    }
}
