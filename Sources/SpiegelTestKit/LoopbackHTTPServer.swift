import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 and a port the kernel picks, for tests and benchmarks.
///
/// Routes:
/// - `/echo`: 200 with the request body; the method in `x-echo-method`, and every request header
///   whose name starts with `x-` echoed as `x-echo-<name>`.
/// - `/status/<code>`: that status, empty body.
/// - `/bytes/<n>`: n bytes with a `Content-Length`; `/stream/<n>`: n bytes chunked, no length.
/// - `/redirect`: 302 to `/echo`.
/// - `/delay/<ms>`: 200 with an empty body after ms milliseconds.
/// - `/hang`: never answers.
/// - `/gate`: held until ``openGate()``; ``heldAtGate`` counts the requests waiting there, so a test
///   can know every request is in flight at once without guessing how long they take to start.
/// - `/inbox` (and `/inbox/<anything>`): records the request (see ``received``) and answers ``inboxStatus`` (200 unless set),
///   recording only what it answers with a 2xx: a receiver that is down keeps nothing.
/// - `/sink` (and anything else): 200, empty body.
///
/// ``acceptedConnections`` counts the TCP connections accepted so far.
public final class LoopbackHTTPServer: Sendable {
    /// The port the server listens on.
    public let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    private let connectionCount: ConnectionCounter
    private let inbox: Inbox
    private let gate: Gate

    /// A request `/inbox` kept: its headers (names in lower case) and body.
    public struct ReceivedRequest: Sendable {
        /// The request's path, such as `/inbox` or `/inbox/bert`.
        public let path: String
        public let headers: [String: String]
        public let body: [UInt8]
        /// When its last byte arrived.
        public let receivedAt: ContinuousClock.Instant
    }

    /// What `/inbox` accepted, in order of arrival.
    public var received: [ReceivedRequest] { self.inbox.requests.withLock { $0 } }

    /// The status `/inbox` answers with; a non-2xx status keeps the request out of ``received``.
    public var inboxStatus: Int {
        get { self.inbox.status.load(ordering: .relaxed) }
        set { self.inbox.status.store(newValue, ordering: .relaxed) }
    }

    /// How many requests `/inbox` answered with a status other than 2xx (a receiver that is down).
    public var refusedCount: Int { self.inbox.refused.load(ordering: .relaxed) }

    /// A URL on this server, for example `url("/echo")`.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(self.port)\(path)" }

    /// The TCP connections accepted since start.
    public var acceptedConnections: Int { self.connectionCount.value.load(ordering: .relaxed) }

    /// The requests to `/gate` waiting for ``openGate()``.
    public var heldAtGate: Int { self.gate.heldCount }

    /// Answers every request held at `/gate`, and every later one at once.
    public func openGate() { self.gate.open() }

    private init(
        port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup, connectionCount: ConnectionCounter, inbox: Inbox, gate: Gate
    ) {
        self.port = port
        self.channel = channel
        self.group = group
        self.connectionCount = connectionCount
        self.inbox = inbox
        self.gate = gate
    }

    /// Starts a server on `threads` event-loop threads.
    public static func start(threads: Int = 1) async throws -> LoopbackHTTPServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let counter = ConnectionCounter()
        let inbox = Inbox()
        let gate = Gate()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                counter.value.add(1, ordering: .relaxed)
                return channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(RouteHandler(inbox: inbox, gate: gate))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = channel.localAddress?.port ?? 0
        return LoopbackHTTPServer(port: port, channel: channel, group: group, connectionCount: counter, inbox: inbox, gate: gate)
    }

    /// Closes the listening socket and every connection.
    public func stop() async throws {
        try await self.channel.close()
        try await self.group.shutdownGracefully()
    }
}

/// Shared by the server and its child-channel initializer.
private final class ConnectionCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// What `/inbox` keeps, shared by every connection.
private final class Inbox: Sendable {
    let requests = Mutex<[LoopbackHTTPServer.ReceivedRequest]>([])
    let status = Atomic<Int>(200)
    let refused = Atomic<Int>(0)
}

/// Holds `/gate` requests until it opens; shared by every connection.
private final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var held: [@Sendable () -> Void] = []
    }
    private let state = Mutex(State())

    var heldCount: Int { self.state.withLock { $0.held.count } }

    /// Runs `answer` now if the gate is open, else when it opens.
    func hold(_ answer: @escaping @Sendable () -> Void) {
        let answerNow = self.state.withLock { state in
            if state.isOpen { return true }
            state.held.append(answer)
            return false
        }
        if answerNow { answer() }
    }

    func open() {
        let held = self.state.withLock { state in
            state.isOpen = true
            defer { state.held.removeAll() }
            return state.held
        }
        for answer in held { answer() }
    }
}

/// Answers one connection's requests by path.
private final class RouteHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private let inbox: Inbox
    private let gate: Gate

    init(inbox: Inbox, gate: Gate) {
        self.inbox = inbox
        self.gate = gate
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body.clear()
        case .body(var chunk):
            self.body.writeBuffer(&chunk)
        case .end:
            guard let head = self.head else { return }
            self.respond(to: head, context: context)
        }
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let parts = request.uri.split(separator: "?", maxSplits: 1)[0].split(separator: "/")
        let route = parts.first.map(String.init) ?? ""
        let argument = parts.count > 1 ? Int(parts[1]) : nil
        var headers = HTTPHeaders()
        switch route {
        case "echo":
            headers.add(name: "x-echo-method", value: request.method.rawValue)
            for (name, value) in request.headers where name.lowercased().hasPrefix("x-") {
                headers.add(name: "x-echo-\(name.lowercased())", value: value)
            }
            self.write(.ok, headers: headers, body: self.body, context: context)
        case "status":
            self.write(HTTPResponseStatus(statusCode: argument ?? 500), headers: headers, body: ByteBuffer(), context: context)
        case "bytes":
            self.write(.ok, headers: headers, body: ByteBuffer(repeating: 0x61, count: argument ?? 0), context: context)
        case "stream":
            headers.add(name: "transfer-encoding", value: "chunked")
            context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .ok, headers: headers))), promise: nil)
            var remaining = argument ?? 0
            while remaining > 0 {
                let size = min(remaining, 16_384)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: 0x62, count: size)))), promise: nil)
                remaining -= size
            }
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        case "redirect":
            headers.add(name: "location", value: "/echo")
            self.write(.found, headers: headers, body: ByteBuffer(), context: context)
        case "delay":
            let delay = TimeAmount.milliseconds(Int64(argument ?? 0))
            let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                self.write(.ok, headers: headers, body: ByteBuffer(), context: loopBoundContext.value)
            }
        case "hang":
            break
        case "gate":
            let eventLoop = context.eventLoop
            let gateHeaders = headers
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: eventLoop)
            self.gate.hold {
                eventLoop.execute {
                    bound.value.handler.write(.ok, headers: gateHeaders, body: ByteBuffer(), context: bound.value.context)
                }
            }
        case "inbox":
            let status = self.inbox.status.load(ordering: .relaxed)
            if (200..<300).contains(status) {
                var fields: [String: String] = [:]
                for (name, value) in request.headers { fields[name.lowercased()] = value }
                let bytes = self.body.getBytes(at: self.body.readerIndex, length: self.body.readableBytes) ?? []
                let path = String(request.uri.split(separator: "?", maxSplits: 1)[0])
                self.inbox.requests.withLock { $0.append(.init(path: path, headers: fields, body: bytes, receivedAt: .now)) }
            } else {
                self.inbox.refused.add(1, ordering: .relaxed)
            }
            self.write(HTTPResponseStatus(statusCode: status), headers: headers, body: ByteBuffer(), context: context)
        default:
            self.write(.ok, headers: headers, body: ByteBuffer(), context: context)
        }
    }

    private func write(_ status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer, context: ChannelHandlerContext) {
        var headers = headers
        headers.add(name: "content-length", value: String(body.readableBytes))
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if body.readableBytes > 0 {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }
}
