// A chat log that grows in the browser: the server sends only what is new.
// Reflex re-sends the whole value of a changed state var, so a streamed answer kept in a var
// costs bytes that grow with the square of its length. Here the server sends small operations
// as `_set_value` events on this component's ref (no state var, no eval), in order:
//   ["add", role, text]   a new entry (role "user" or "assistant"), the assistant one streaming
//   ["put", at, text]     the last entry's text becomes text[0:at] + text (at 0: replaced)
//   ["end", status]       the last entry is finished ("failed" shows a badge)
//   ["all", entries]      everything replaced (opening a thread, or a resync)
// A `put` beyond the text we hold means an operation was lost (reconnect, remount): we ask the
// server for everything with `onGap`, and it answers with "all".
import React, { useEffect, useImperativeHandle, useRef, useState } from "react";

const BUBBLE = {
  padding: "10px 14px",
  borderRadius: 12,
  maxWidth: "85%",
  whiteSpace: "pre-wrap",
  wordBreak: "break-word",
  fontSize: "var(--font-size-2, 14px)",
  lineHeight: "var(--line-height-2, 20px)",
};

// Pieces arrive a second or two apart (each costs ~130 bytes of framing, so the server sends
// few): while an entry streams, type each piece out over the time the previous one took, so
// the answer reads as a steady stream. A finished entry shows everything at once.
function useTypedOut(text, running) {
  const [shown, setShown] = useState(text.length);
  // The position typed so far lives in a ref: a frame of the previous animation may run after
  // a new piece rendered but before its effect cancels that animation, so the `shown` of the
  // render can be behind what the page already shows, and starting from it would step back.
  const typed = useRef(text.length);
  const arrived = useRef(performance.now());
  const target = text.length;
  useEffect(() => {
    const now = performance.now();
    let pos = Math.min(typed.current, target);
    // the first piece shows at once; later ones over the time since the previous piece
    const interval = pos === 0 ? 100 : Math.min(Math.max(now - arrived.current, 100), 3000);
    arrived.current = now;
    if (!running) return undefined;
    if (pos >= target) {
      typed.current = target;
      setShown(target);
      return undefined;
    }
    const rate = (target - pos) / interval; // characters per millisecond
    let last = now;
    let frame = requestAnimationFrame(function step(t) {
      pos = Math.min(target, pos + rate * (t - last));
      last = t;
      typed.current = Math.max(typed.current, Math.floor(pos));
      setShown(typed.current);
      if (pos < target) frame = requestAnimationFrame(step);
    });
    return () => cancelAnimationFrame(frame);
  }, [target, running]);
  return running ? text.slice(0, Math.min(shown, target)) : text;
}

function Entry({ entry, last, streamId, doneId, bubbles }) {
  const mine = entry.role === "user";
  const running = entry.status === "running";
  const text = useTypedOut(entry.text, running);
  const textId = last && !mine ? (running ? streamId : doneId) : undefined;
  const style = bubbles
    ? {
        ...BUBBLE,
        alignSelf: mine ? "flex-end" : "flex-start",
        background: mine ? "var(--accent-3, #eef)" : "var(--gray-3, #eee)",
      }
    : { whiteSpace: "pre-wrap", wordBreak: "break-word", fontSize: "var(--font-size-2, 14px)" };
  return (
    <div className={"live-entry " + (mine ? "msg-user" : "msg-assistant")} style={style}>
      <span id={textId || undefined}>{text}</span>
      {running ? <span className="live-caret" aria-label="streaming"> ▍</span> : null}
      {entry.status === "failed" ? (
        <span
          className="live-failed"
          style={{
            display: "inline-block",
            marginLeft: 6,
            marginTop: 4,
            padding: "0 6px",
            borderRadius: 4,
            fontSize: 12,
            color: "var(--red-11, #c00)",
            background: "var(--red-3, #fee)",
          }}
        >
          failed
        </span>
      ) : null}
    </div>
  );
}

export function LiveLog({ ref, onGap, streamId, doneId, bubbles = true, id, className }) {
  const entries = useRef([]);
  const [, setVersion] = useState(0);
  const asked = useRef(false);

  const apply = (op) => {
    if (!Array.isArray(op)) return;
    const list = entries.current;
    const lastEntry = list[list.length - 1];
    if (op[0] === "all") {
      entries.current = (op[1] || []).map((e) => ({ ...e }));
      asked.current = false;
    } else if (op[0] === "add") {
      const role = op[1];
      entries.current = [
        ...list,
        { role, text: op[2] || "", status: role === "user" ? "" : "running" },
      ];
    } else if (op[0] === "put" && lastEntry) {
      const at = op[1];
      if (at > lastEntry.text.length) {
        if (!asked.current && onGap) {
          asked.current = true;
          onGap();
        }
        return;
      }
      entries.current = [...list.slice(0, -1), { ...lastEntry, text: lastEntry.text.slice(0, at) + op[2] }];
    } else if (op[0] === "end" && lastEntry) {
      entries.current = [...list.slice(0, -1), { ...lastEntry, status: op[1] || "" }];
    } else if (op[0] === "put" || op[0] === "end") {
      if (!asked.current && onGap) {
        asked.current = true;
        onGap();
      }
      return;
    }
    setVersion((v) => v + 1);
  };

  // Reflex's `_set_value` event does `ref.current.value = payload`: receive it here.
  useImperativeHandle(ref, () => ({
    set value(op) {
      apply(op);
    },
    get value() {
      return entries.current;
    },
  }));

  const list = entries.current;
  return (
    <div
      id={id}
      className={className}
      style={{ display: "flex", flexDirection: "column", gap: "var(--space-3, 12px)", width: "100%" }}
    >
      {list.map((entry, i) => (
        <Entry
          key={i}
          entry={entry}
          last={i === list.length - 1}
          streamId={streamId}
          doneId={doneId}
          bubbles={bubbles}
        />
      ))}
    </div>
  );
}
