// The builder's canvas: React Flow with nodes and edges kept in React.
// The server hears only finished gestures (connect, drag stop, delete, drop from the palette,
// selection) as one `onGraphChange(graph)` / `onSelect(id)` call each, never per mouse move.
import React, { useCallback, useEffect, useMemo, useRef } from "react";
import {
  ReactFlow,
  ReactFlowProvider,
  Background,
  Controls,
  Handle,
  Position,
  addEdge,
  useEdgesState,
  useNodesState,
  useReactFlow,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";

const COLORS = {
  model: "#6e56cf",
  instructions: "#0090ff",
  tool: "#12a594",
  knowledge: "#e5484d",
  agent: "#f76b15",
  integration: "#ab4aba",
};

function AgentNode({ id, data, selected }) {
  const color = COLORS[data.kind] || "#888";
  const problem = data.problem;
  return (
    <div
      className={"ap-node ap-node-" + data.kind + (problem ? " ap-node-invalid" : "")}
      data-node-id={id}
      title={problem || data.subtitle || ""}
      style={{
        minWidth: 170,
        maxWidth: 240,
        padding: "8px 10px",
        borderRadius: 10,
        background: "var(--color-panel-solid, #fff)",
        border: `2px solid ${problem ? "#e5484d" : selected ? color : "var(--gray-6, #ccc)"}`,
        boxShadow: selected ? `0 0 0 3px ${color}33` : "0 1px 3px #0002",
        fontSize: 12,
      }}
    >
      {data.kind === "model" ? (
        <Handle type="target" position={Position.Left} id="in" style={{ background: color, width: 10, height: 10 }} />
      ) : (
        <Handle type="source" position={Position.Right} id="out" style={{ background: color, width: 10, height: 10 }} />
      )}
      <div style={{ color, fontWeight: 600, textTransform: "uppercase", fontSize: 10 }}>{data.kind}</div>
      <div style={{ fontWeight: 600, wordBreak: "break-word" }}>{data.label}</div>
      {data.subtitle ? <div style={{ color: "var(--gray-11, #666)", wordBreak: "break-word" }}>{data.subtitle}</div> : null}
      {problem ? <div className="ap-node-problem" style={{ color: "#e5484d", marginTop: 4 }}>⚠ {problem}</div> : null}
    </div>
  );
}

const nodeTypes = { agent: AgentNode };

// Phone widths: the palette becomes a wrapping strip above the canvas instead of a column.
function useNarrow() {
  const query = "(max-width: 640px)";
  const [narrow, setNarrow] = React.useState(
    () => typeof window !== "undefined" && window.matchMedia(query).matches
  );
  useEffect(() => {
    const media = window.matchMedia(query);
    const onChange = () => setNarrow(media.matches);
    media.addEventListener("change", onChange);
    return () => media.removeEventListener("change", onChange);
  }, []);
  return narrow;
}

function toFlow(graph) {
  const nodes = (graph.nodes || []).map((n) => ({
    id: n.id,
    type: "agent",
    position: n.position || { x: 0, y: 0 },
    deletable: n.kind !== "model" && n.kind !== "instructions",
    data: { kind: n.kind, name: n.name, label: n.label, settings: n.settings || {} },
  }));
  const edges = (graph.edges || []).map((e) => ({
    id: `${e.source}->${e.target}`,
    source: e.source,
    target: e.target,
    animated: false,
  }));
  return { nodes, edges };
}

function toGraph(nodes, edges) {
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      kind: n.data.kind,
      name: n.data.name || "",
      label: n.data.label || "",
      settings: n.data.settings || {},
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
    })),
    edges: edges.map((e) => ({ source: e.source, target: e.target })),
  };
}

function Canvas({ graph, details, palette, onGraphChange, onSelect, readOnly }) {
  const initial = useMemo(() => toFlow(graph || {}), [graph]);
  const [nodes, setNodes, onNodesChange] = useNodesState(initial.nodes);
  const [edges, setEdges, onEdgesChange] = useEdgesState(initial.edges);
  const { screenToFlowPosition } = useReactFlow();
  const narrow = useNarrow();
  const latest = useRef({ nodes, edges });
  latest.current = { nodes, edges };

  useEffect(() => {
    setNodes(initial.nodes);
    setEdges(initial.edges);
  }, [initial]);

  const report = useCallback(
    (nextNodes, nextEdges) => {
      if (onGraphChange) onGraphChange(toGraph(nextNodes, nextEdges));
    },
    [onGraphChange]
  );

  // Server-side facts (labels, problems) are merged in at render time, never stored in the
  // nodes: a late answer from the server cannot move a node back.
  const shown = useMemo(
    () =>
      nodes.map((n) => {
        const extra = (details || {})[n.id] || {};
        return { ...n, data: { ...n.data, label: extra.label || n.data.label, subtitle: extra.subtitle, problem: extra.problem } };
      }),
    [nodes, details]
  );

  const onConnect = useCallback(
    (params) => {
      if (params.target !== "model" || params.source === "model") return;
      const next = addEdge({ ...params, id: `${params.source}->${params.target}` }, latest.current.edges);
      setEdges(next);
      report(latest.current.nodes, next);
    },
    [report]
  );

  const isValidConnection = useCallback((c) => c.target === "model" && c.source !== "model", []);

  const onNodeDragStop = useCallback(() => {
    report(latest.current.nodes, latest.current.edges);
  }, [report]);

  const onDelete = useCallback(
    ({ nodes: gone, edges: goneEdges }) => {
      const goneIds = new Set(gone.map((n) => n.id));
      const goneEdgeIds = new Set(goneEdges.map((e) => e.id));
      const nextNodes = latest.current.nodes.filter((n) => !goneIds.has(n.id));
      const nextEdges = latest.current.edges.filter(
        (e) => !goneEdgeIds.has(e.id) && !goneIds.has(e.source) && !goneIds.has(e.target)
      );
      report(nextNodes, nextEdges);
      if (gone.length && onSelect) onSelect("");
    },
    [report, onSelect]
  );

  const onDragOver = useCallback((event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
  }, []);

  const onDrop = useCallback(
    (event) => {
      event.preventDefault();
      const raw = event.dataTransfer.getData("application/x-agent-node");
      if (!raw) return;
      let item;
      try {
        item = JSON.parse(raw);
      } catch (_) {
        return;
      }
      if (!item || !COLORS[item.kind] || item.kind === "model" || item.kind === "instructions") return;
      const id =
        item.kind === "integration"
          ? `integration:new-${Math.random().toString(36).slice(2, 10)}:${item.name}`
          : `${item.kind}:${item.name}`;
      if (latest.current.nodes.some((n) => n.id === id)) return;
      const position = screenToFlowPosition({ x: event.clientX, y: event.clientY });
      const node = {
        id,
        type: "agent",
        position,
        deletable: true,
        data: { kind: item.kind, name: item.name, label: item.label, settings: item.settings || {} },
      };
      const next = [...latest.current.nodes, node];
      setNodes(next);
      report(next, latest.current.edges);
      if (onSelect) onSelect(id);
    },
    [screenToFlowPosition, report, onSelect]
  );

  // Keyboard users cannot drag or draw an edge: Enter on a palette item adds the node below
  // the others, already wired into the model.
  const addWired = useCallback(
    (item) => {
      const id =
        item.kind === "integration"
          ? `integration:new-${Math.random().toString(36).slice(2, 10)}:${item.name}`
          : `${item.kind}:${item.name}`;
      if (latest.current.nodes.some((n) => n.id === id)) return;
      const lowest = Math.max(0, ...latest.current.nodes.map((n) => n.position.y));
      const node = {
        id,
        type: "agent",
        position: { x: 40, y: lowest + 90 },
        deletable: true,
        data: { kind: item.kind, name: item.name, label: item.label, settings: item.settings || {} },
      };
      const nextNodes = [...latest.current.nodes, node];
      const nextEdges = [...latest.current.edges, { id: `${id}->model`, source: id, target: "model" }];
      setNodes(nextNodes);
      setEdges(nextEdges);
      report(nextNodes, nextEdges);
      if (onSelect) onSelect(id);
    },
    [report, onSelect]
  );

  const groups = useMemo(() => {
    const out = {};
    for (const item of palette || []) {
      (out[item.group] = out[item.group] || []).push(item);
    }
    return out;
  }, [palette]);

  return (
    <div
      style={{
        display: "flex",
        flexDirection: narrow ? "column" : "row",
        width: "100%",
        height: "100%",
        gap: 8,
      }}
    >
      <div
        className="ap-palette"
        style={
          narrow
            ? { maxHeight: 120, overflowY: "auto", fontSize: 12, flexShrink: 0 }
            : { width: 190, overflowY: "auto", fontSize: 12, flexShrink: 0 }
        }
      >
        {Object.keys(groups).map((group) => (
          <div
            key={group}
            style={
              narrow
                ? { display: "flex", flexWrap: "wrap", gap: 4, alignItems: "center", marginBottom: 6 }
                : { marginBottom: 10 }
            }
          >
            <div style={{ fontWeight: 600, color: "var(--gray-11, #666)", marginBottom: 4 }}>{group}</div>
            {groups[group].map((item, index) => (
              <div
                key={`${group}:${item.kind}:${item.name}:${index}`}
                className="ap-palette-item"
                data-palette={`${item.kind}:${item.name}`}
                draggable={!readOnly}
                tabIndex={0}
                role="button"
                aria-label={`Add ${item.label} (Enter adds it connected to the model)`}
                onKeyDown={(event) => {
                  if (!readOnly && (event.key === "Enter" || event.key === " ")) {
                    event.preventDefault();
                    addWired(item);
                  }
                }}
                onDragStart={(event) => {
                  event.dataTransfer.setData("application/x-agent-node", JSON.stringify(item));
                  event.dataTransfer.effectAllowed = "move";
                }}
                style={{
                  padding: "5px 8px",
                  marginBottom: 4,
                  borderRadius: 6,
                  border: `1px solid ${COLORS[item.kind] || "#ccc"}`,
                  cursor: "grab",
                  background: "var(--color-panel-solid, #fff)",
                }}
              >
                {item.label}
              </div>
            ))}
          </div>
        ))}
      </div>
      <div
        style={{ flex: 1, minHeight: 0, minWidth: 0 }}
        onDrop={onDrop}
        onDragOver={onDragOver}
      >
        <ReactFlow
          nodes={shown}
          edges={edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onConnect={onConnect}
          isValidConnection={isValidConnection}
          onNodeDragStop={onNodeDragStop}
          onDelete={onDelete}
          onNodeClick={(_, node) => onSelect && onSelect(node.id)}
          onPaneClick={() => onSelect && onSelect("")}
          deleteKeyCode={["Backspace", "Delete"]}
          nodesDraggable={!readOnly}
          nodesConnectable={!readOnly}
          fitView
          fitViewOptions={{ padding: 0.2 }}
          proOptions={{ hideAttribution: true }}
        >
          <Background gap={18} />
          <Controls showInteractive={false} />
        </ReactFlow>
      </div>
    </div>
  );
}

export function FlowCanvas(props) {
  return (
    <ReactFlowProvider>
      <Canvas {...props} />
    </ReactFlowProvider>
  );
}
