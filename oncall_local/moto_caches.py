"""What moto works out again on every request, worked out once, for the embedded
emulator. Each cache holds something that cannot change while the process runs,
so no answer changes: only the time to give it (bench/RESULTS.md;
tests/test_moto_caches.py compares moto's answers with and without them). One
exception, towards DynamoDB: an update expression of more than about 160 actions
or operands (1.6 KB, within DynamoDB's 4 KB) nests deeper than copy.deepcopy can
follow, and moto fails with a RecursionError; the copy below recurses a third as
deep, so such an update is applied.

- The request handler's method names: moto lists the members of its handler class
  with `inspect.getmembers` to find the operation, on every request.
- Parsed update expressions, by their text: a product sends the same few
  expressions again and again. moto's validator works on a deep copy of the parsed
  expression, never on the parse itself, so one parse serves every request.
- That copy: copy.deepcopy walks each node of the tree through its generic reduce
  and memo machinery; a node holds only its type name, its children and its parent,
  so it is copied node by node instead, in a third of the time.
- Whether an update-expression processor acts on a node, and whether a search for
  clauses descends into it: for every node, each of the ten processors of an update
  builds the list of node types it acts on anew and checks the node against it, and
  moto's nodes are abstract base classes, so each check is a call into abc. The
  answer is kept per processor and class of node (moto registers no virtual
  subclasses).
- Condition expressions split into tokens, by their text: the tokens are tuples
  that moto's later passes read and never change, so each parse starts from a
  fresh queue of the same tokens.
"""

import copy
import functools
from collections import deque

from moto.core import responses
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.parsing import ast_nodes, expressions

PARSED_EXPRESSIONS = 512
_NODE_FIELDS = {"type", "children", "parent"}
# What deepcopy gives back as it is: a node's names, indexes and flags.
_IMMUTABLE = (str, int, bool, type(None))
_UNCOPIED = object()


@functools.cache
def _is_node(kind: type) -> bool:
    return issubclass(kind, ast_nodes.Node)


def _copy_node(node, memo: dict, parent=_UNCOPIED):
    """copy.deepcopy's answer for an expression node: the same tree, with the same
    nodes shared and the same parents. A child whose parent is the node being copied
    (every child, in moto's trees) is copied in place; anything else goes to deepcopy."""
    copied = object.__new__(type(node))
    memo[id(node)] = copied
    fields = node.__dict__
    if fields.keys() != _NODE_FIELDS:
        copied.__dict__.update(copy.deepcopy(fields, memo))
        return copied
    copied.type = node.type
    copied.parent = copy.deepcopy(node.parent, memo) if parent is _UNCOPIED else parent
    children = node.children
    if children is not None:
        children = [_copy_child(child, node, copied, memo) for child in children]
    copied.children = children
    return copied


def _copy_child(child, node, copied, memo: dict):
    """A child of `node` as it is in `copied`, the copy being made of it."""
    if _is_node(type(child)) and child.parent is node and id(child) not in memo:
        return _copy_node(child, memo, copied)
    if type(child) in _IMMUTABLE:
        return child
    return copy.deepcopy(child, memo)


# (processor class, node class) -> the key of the processor's map that acts on that
# node class (the first the node is an instance of, as moto looks it up), or None.
_acting: dict[tuple[type, type], type | None] = {}
_NONE_ACTS = object()


def _acts_on(traverser, kind: type) -> type | None:
    key = _acting.get((type(traverser), kind), _NONE_ACTS)
    if key is _NONE_ACTS:
        key = _acting[type(traverser), kind] = next(
            (node_class for node_class in traverser._processing_map() if issubclass(kind, node_class)), None
        )
    return key


def _traverse_node_recursively(traverser, node, child_id=-1):
    """moto's DepthFirstTraverser.traverse_node_recursively and process, step for step,
    with each class check answered once per class of node."""
    kind = type(node)
    if not _is_node(kind):
        return node
    parent_node = node.parent
    if node.children is not None:
        for i, child_node in enumerate(node.children):
            traverser.pre_processing_of_child(node, i)
            traverser.traverse_node_recursively(child_node, i)
    acting = _acts_on(traverser, kind)
    if acting is not None:
        node = traverser._processing_map()[acting](node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
    return node


@functools.cache
def _descended_into(kind: type) -> bool:
    return issubclass(kind, (ast_nodes.Expression, ast_nodes.UpdateExpressionFunction))


def _find_clauses(node, clause_types) -> list:
    """moto's Node.find_clauses, step for step, with its class checks answered once
    per class of node."""
    clauses = []
    for child in node.children or []:
        if type(child) in clause_types:
            clauses.append(child)
        elif _descended_into(type(child)):
            clauses.extend(child.find_clauses(clause_types))
    return clauses


_split_into_tokens = ConditionExpressionParser._lex_condition_expression


@functools.lru_cache(maxsize=PARSED_EXPRESSIONS)
def _tokens(expression: str) -> tuple:
    return tuple(_split_into_tokens(ConditionExpressionParser(expression, None, None)))


def _lex_condition_expression(parser: ConditionExpressionParser) -> deque:
    return deque(_tokens(parser.condition_expression))


def install() -> None:
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)

    ast_nodes.DepthFirstTraverser.traverse_node_recursively = _traverse_node_recursively
    ast_nodes.Node.find_clauses = _find_clauses

    parse = functools.lru_cache(maxsize=PARSED_EXPRESSIONS)(expressions.UpdateExpressionParser.make)
    expressions.UpdateExpressionParser.make = staticmethod(parse)

    ast_nodes.Node.__deepcopy__ = _copy_node

    ConditionExpressionParser._lex_condition_expression = _lex_condition_expression
