{#-
    The project spells text `varchar` (model contracts, seed column_types), as DuckDB and most warehouses do.
    Spark's parser rejects a varchar without a length (DATATYPE_MISSING_SIZE); its text type is `string`.
    On Spark these root-project overrides translate the type names dbt writes into SQL, so the YAML stays one
    spelling for every engine (and the same as contracts/*.yml); other engines are untouched.
-#}
{#- A type name as Spark spells it: varchar, text or char without a length -> string; anything else unchanged. -#}
{% macro spark_type(data_type) -%}
    {%- set cleaned = (data_type | string | trim) -%}
    {{ return('string' if cleaned | lower in ['varchar', 'text', 'char', 'character varying'] else cleaned) }}
{%- endmacro %}

{#- dbt.cast (used by the contract check's empty-schema query, get_empty_schema_sql) -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ readout.spark_type(type) }})
{%- endmacro %}

{#- Seeds: dbt-spark's own seed macros, given the column_types translated. -#}
{% macro spark_seed_node(model) -%}
    {%- set column_types = {} -%}
    {%- for name, data_type in (model['config'].get('column_types') or {}).items() -%}
        {%- do column_types.update({name: readout.spark_type(data_type)}) -%}
    {%- endfor -%}
    {%- do model['config'].update({'column_types': column_types}) -%}
    {{ return(model) }}
{%- endmacro %}

{% macro spark__create_csv_table(model, agate_table) -%}
    {{ return(dbt.spark__create_csv_table(readout.spark_seed_node(model), agate_table)) }}
{%- endmacro %}

{#-
    Seed rows as SQL literals, not bindings: dbt-spark's session method pastes each binding between quotes
    unescaped, so an empty cell became the text 'None' and a quote in a value broke the statement.
    Empty cells are null, text is quoted by readout.quote_string, numbers and booleans are literals; every
    value is cast to its column's type (column_types, else dbt's inferred type), as dbt-spark does.
-#}
{% macro spark__load_csv_rows(model, agate_table) -%}
    {%- set column_override = readout.spark_seed_node(model)['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for value in row -%}
                    cast({{ readout.spark_seed_literal(value) }} as {{ types[loop.index0] }}){{ ', ' if not loop.last }}
                {%- endfor -%}){{ ',' if not loop.last }}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}{%- do statements.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{%- endmacro %}

{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}null
    {%- elif value is boolean -%}{{ 'true' if value else 'false' }}
    {%- elif value is number -%}{{ value }}
    {%- else -%}{{ readout.quote_string(value) }}
    {%- endif -%}
{%- endmacro %}
