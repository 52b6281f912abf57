// Protocol tracing: a pass-through of the message streams that reports each message.
import type { AnyMessage, Stream } from "@agentclientprotocol/sdk";

export type TraceSink = (direction: "→" | "←", message: AnyMessage) => void;

function tap(direction: "→" | "←", sink: () => TraceSink | undefined): TransformStream<AnyMessage, AnyMessage> {
  return new TransformStream<AnyMessage, AnyMessage>({
    transform(message, controller) {
      sink()?.(direction, message);
      controller.enqueue(message);
    },
  });
}

/** Wraps a stream so that every message in and out goes to `sink()` when it returns one. */
export function traced(stream: Stream, sink: () => TraceSink | undefined): Stream {
  const outgoing = tap("→", sink);
  void outgoing.readable.pipeTo(stream.writable).catch(() => undefined);
  return { writable: outgoing.writable, readable: stream.readable.pipeThrough(tap("←", sink)) };
}
