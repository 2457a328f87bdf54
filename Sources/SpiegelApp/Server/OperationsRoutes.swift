import Foundation
import Hummingbird
import NIOPosix
import Prometheus
import SpiegelVault

/// `GET /healthz`, `GET /readyz` and `GET /metrics`: what an orchestrator and a Prometheus scraper
/// need. None of them carries personal data.
struct OperationsRoutes {
    let dataDirectory: DataDirectory
    let vault: Vault
    let registry: PrometheusCollectorRegistry

    func add(to router: Router<BasicRequestContext>) {
        // Alive: the process answers HTTP.
        router.get("/healthz") { _, _ in
            JSONResponse.json(.ok, #"{"status":"ok"}"#)
        }
        // Ready: the configuration is loaded (it is, or the server would not run), the vault takes
        // writes and the data directory has room. A degraded vault tries again here what failed,
        // so it recovers once the disk has room, even when no message comes.
        router.get("/readyz") { _, _ in
            switch await self.vault.retryIfDegraded() {
            case .failed(let reason):
                return Self.unavailable("the vault stopped after a failed sync (\(reason)); Spiegel restarts")
            case .degraded(let reason):
                return Self.unavailable("the vault refused a write (\(reason)); it tries again")
            case .healthy:
                break
            }
            let isWritable = try await NIOThreadPool.singleton.runIfActive { self.dataDirectory.isWritable() }
            guard isWritable else {
                return Self.unavailable("the data directory takes no writes (full, read-only or out of file descriptors)")
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

    private static func unavailable(_ reason: String) -> Response {
        let body = (try? JSONEncoder().encode(["status": "unavailable", "reason": reason])).map { String(decoding: $0, as: UTF8.self) }
        return JSONResponse.json(.serviceUnavailable, body ?? #"{"status":"unavailable"}"#)
    }
}
