import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Keeps the server answering when too many connections are open: each connection beyond
/// `limit` gets its first request answered at once, `/healthz` and `/readyz` as usual and anything
/// else with 503 and `Retry-After`, and is closed; one that sends no whole request head in
/// `overLimitTimeout` is closed too. Within the limit, Hummingbird's idle timeout closes a
/// connection that sends half a header and nothing more.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The connections open now, shared by every connection of a server.
    final class Count: Sendable {
        let limit: Int
        private let open = Atomic<Int>(0)

        init(limit: Int) {
            self.limit = limit
        }

        /// Counts a connection in; true when it is beyond the limit.
        func enter() -> Bool {
            self.open.wrappingAdd(1, ordering: .relaxed).newValue > self.limit
        }

        func leave() {
            self.open.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    /// Paths an orchestrator probes; answered even beyond the limit.
    static let probes: Set<String> = ["/healthz", "/readyz"]
    static let overLimitTimeout = TimeAmount.seconds(2)

    private let count: Count
    private var isOverLimit = false
    private var isCounted = false
    private var isPassingThrough = false
    private var timeout: Scheduled<Void>?

    init(count: Count) {
        self.count = count
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.isCounted = true
        self.isOverLimit = self.count.enter()
        guard self.isOverLimit else { return }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.timeout = context.eventLoop.assumeIsolated().scheduleTask(in: Self.overLimitTimeout) {
            bound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timeout?.cancel()
        if self.isCounted {
            self.isCounted = false
            self.count.leave()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.isCounted {
            self.isCounted = false
            self.count.leave()
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard self.isOverLimit, !self.isPassingThrough else {
            context.fireChannelRead(data)
            return
        }
        guard case .head(let request) = self.unwrapInboundIn(data) else { return }
        self.timeout?.cancel()
        let path = request.path.map { String($0.prefix { $0 != "?" }) } ?? ""
        if Self.probes.contains(path) {
            // Answered as usual, then closed: a probe never waits behind the crowd.
            self.isPassingThrough = true
            context.fireChannelRead(data)
            return
        }
        var fields = HTTPFields()
        fields[.retryAfter] = "1"
        fields[.connection] = "close"
        fields[.contentType] = "application/json"
        let body = #"{"error":"too many connections; try again in a moment"}"#
        fields[.contentLength] = String(body.utf8.count)
        context.write(self.wrapOutboundOut(.head(HTTPResponse(status: .serviceUnavailable, headerFields: fields))), promise: nil)
        context.write(self.wrapOutboundOut(.body(ByteBuffer(string: body))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard self.isPassingThrough else {
            context.write(data, promise: promise)
            return
        }
        if case .head(var response) = self.unwrapOutboundIn(data) {
            // The client learns the connection is not kept.
            response.headerFields[.connection] = "close"
            context.write(self.wrapOutboundOut(.head(response)), promise: promise)
            return
        }
        guard case .end = self.unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        // A probe beyond the limit: its answer is the connection's last.
        context.writeAndFlush(data).assumeIsolated().whenComplete { result in
            promise?.completeWith(result)
            context.close(promise: nil)
        }
    }
}
