"""What moto works out again on every request, worked out once, for the embedded
emulator. Each cache holds something that cannot change while the process runs,
so no answer changes: only the time to give it (bench/RESULTS.md).

- The request handler's method names: moto lists the members of its handler class
  with `inspect.getmembers` to find the operation, on every request.
- The node types each update-expression processor acts on: moto builds them anew
  for every node of the expression, and each update runs ten such processors.
- Parsed update expressions, by their text: a product sends the same few
  expressions again and again. moto's validator works on a deep copy of the parsed
  expression, never on the parse itself, so one parse serves every request.
"""

import functools

from moto.core import responses
from moto.dynamodb.parsing import ast_nodes, expressions

PARSED_EXPRESSIONS = 512


def install() -> None:
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)

    node_types: dict[type, tuple] = {}

    def nodes_to_be_processed(traverser) -> tuple:
        kind = type(traverser)
        types = node_types.get(kind)
        if types is None:
            types = node_types[kind] = tuple(traverser._processing_map())
        return types

    ast_nodes.DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed

    parse = functools.lru_cache(maxsize=PARSED_EXPRESSIONS)(expressions.UpdateExpressionParser.make)
    expressions.UpdateExpressionParser.make = staticmethod(parse)
