//! The columns of a Parquet file of rows `R`, and their Arrow types, read off the row type
//! itself: its derived `Deserialize` is walked once with a deserializer that answers every
//! field with a placeholder and notes what the field asked for (an unsigned integer, a number,
//! text, an option of one of those, a unit enum, or a list of texts). So the row types of
//! [`crate::output::rows`] stay the one definition of each file's columns, in CSV and Parquet
//! alike ([`crate::output::rows::columns`] gives the same names, in the same order).
//!
//! Types: `u8`..`u64` are UInt64, `i8`..`i64` Int64, `f32`/`f64` Float64 (always nullable: a
//! missing or non-finite number is null, as it is an empty field in CSV), `String` and unit
//! enums (by their serde names) Utf8, `Option<T>` a nullable `T`. A `Vec<String>` field stands
//! for several columns named at write time ([`Layout::expand`]: a sweep's parameters).

use arrow_schema::{DataType, Field, Schema};
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::sync::Arc;

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    UInt64,
    Int64,
    Float64,
    Utf8,
    Boolean,
}

impl Kind {
    /// The Arrow type.
    pub fn data_type(self) -> DataType {
        match self {
            Kind::UInt64 => DataType::UInt64,
            Kind::Int64 => DataType::Int64,
            Kind::Float64 => DataType::Float64,
            Kind::Utf8 => DataType::Utf8,
            Kind::Boolean => DataType::Boolean,
        }
    }
}

/// One column of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name in the file.
    pub name: String,
    /// The row type's field it holds (the name, except for the columns of an expanded field).
    pub field: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

/// A field of the row type as traced: one column, or a list of texts that becomes columns.
#[derive(Debug, Clone, PartialEq)]
enum Traced {
    One(Kind, bool),
    List,
}

/// The columns of a file of rows `R`, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub columns: Vec<Column>,
    /// The row type's fields, in order.
    fields: Vec<&'static str>,
    /// A list field of `R` not yet given its columns ([`Layout::expand`]).
    unexpanded: Vec<&'static str>,
}

impl Layout {
    /// The columns of `R`'s fields (a list field has none until [`Layout::expand`]).
    pub fn of<R: DeserializeOwned>() -> Layout {
        let mut trace = Trace::default();
        // the placeholders make a value of R, which is dropped: only the trace is wanted
        if let Err(e) = R::deserialize(&mut trace) {
            // a row type of this crate is a struct of the supported fields (a unit test traces each)
            panic!("{}: not a row type: {e}", std::any::type_name::<R>());
        }
        let mut layout = Layout {
            columns: Vec::new(),
            fields: trace.fields.iter().map(|f| f.0).collect(),
            unexpanded: Vec::new(),
        };
        for (field, traced) in trace.fields {
            match traced {
                Traced::One(kind, nullable) => layout.columns.push(Column {
                    name: field.to_string(),
                    field,
                    kind,
                    nullable,
                }),
                Traced::List => layout.unexpanded.push(field),
            }
        }
        layout
    }

    /// Give the list field `field` its columns, `columns` (name and type, none nullable), in its
    /// place among the fields.
    pub fn expand(mut self, field: &'static str, columns: &[(String, Kind)]) -> Layout {
        let Some(at) = self.unexpanded.iter().position(|&f| f == field) else {
            panic!("{field} is not a list field of the row type");
        };
        self.unexpanded.remove(at);
        // its place: after the columns of the fields before it
        let rank = |f: &str| self.fields.iter().position(|&o| o == f);
        let position = self.columns.iter().take_while(|c| rank(c.field) < rank(field)).count();
        let new = columns.iter().map(|(name, kind)| Column {
            name: name.clone(),
            field,
            kind: *kind,
            nullable: false,
        });
        self.columns.splice(position..position, new);
        self
    }

    /// Leave the field `field` out (e.g. a sweep's `wall_seconds` with `--no-timing`).
    pub fn without(mut self, field: &str) -> Layout {
        self.columns.retain(|c| c.field != field);
        self
    }

    /// Whether `field` is a list field of the row type that has no columns yet.
    pub fn is_list(&self, field: &str) -> bool {
        self.unexpanded.contains(&field)
    }

    /// The column names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The Arrow schema.
    pub fn schema(&self) -> Arc<Schema> {
        assert!(
            self.unexpanded.is_empty(),
            "list fields without columns: {:?}",
            self.unexpanded
        );
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.kind.data_type(), c.nullable))
            .collect();
        Arc::new(Schema::new(fields))
    }
}

/// The deserializer that traces a row type: each field gets a placeholder of the type it asks
/// for, and the type is noted.
#[derive(Default)]
struct Trace {
    fields: Vec<(&'static str, Traced)>,
}

/// Why a type cannot be traced.
type Error = de::value::Error;

impl<'de> Deserializer<'de> for &mut Trace {
    type Error = Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_map(TraceFields {
            trace: self,
            names: fields,
            next: 0,
        })
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(de::Error::custom("a row type is a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The fields of the struct being traced, handed out in order.
struct TraceFields<'a> {
    trace: &'a mut Trace,
    names: &'static [&'static str],
    next: usize,
}

impl<'de> MapAccess<'de> for TraceFields<'_> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some(&name) = self.names.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize(name.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let name = self.names[self.next];
        self.next += 1;
        let mut field = TraceField { traced: None };
        let value = seed.deserialize(&mut field)?;
        let traced = field
            .traced
            .ok_or_else(|| <Error as de::Error>::custom(format!("field `{name}` has an unsupported type")))?;
        self.trace.fields.push((name, traced));
        Ok(value)
    }
}

/// One field being traced.
struct TraceField {
    traced: Option<Traced>,
}

impl TraceField {
    fn note(&mut self, kind: Kind) {
        // an option already noted itself as nullable; numbers are always nullable
        let nullable = matches!(self.traced, Some(Traced::One(_, true))) || kind == Kind::Float64;
        self.traced = Some(Traced::One(kind, nullable));
    }
}

impl<'de> Deserializer<'de> for &mut TraceField {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(de::Error::custom("a column has a definite type"))
    }
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.note(Kind::Boolean);
        visitor.visit_bool(false)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.note(Kind::UInt64);
        visitor.visit_u64(0)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.note(Kind::Int64);
        visitor.visit_i64(0)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.note(Kind::Float64);
        visitor.visit_f64(0.0)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.note(Kind::Utf8);
        visitor.visit_str("")
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.traced.is_some() {
            return Err(de::Error::custom("an option of an option is not a column"));
        }
        self.traced = Some(Traced::One(Kind::Utf8, true));
        visitor.visit_some(self)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.note(Kind::Utf8);
        let first = variants.first().copied().unwrap_or_default();
        visitor.visit_enum(first.into_deserializer())
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.traced = Some(Traced::List);
        visitor.visit_seq(Empty)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct newtype_struct tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// A list with no element (the placeholder of a list field).
struct Empty;

impl<'de> SeqAccess<'de> for Empty {
    type Error = Error;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(&mut self, _seed: T) -> Result<Option<T::Value>, Error> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::rows::{columns, FirmRow, MetricsRow, PropagationRow, SweepRow, TrajectoryRow};

    fn kinds(l: &Layout) -> Vec<(&str, Kind, bool)> {
        l.columns
            .iter()
            .map(|c| (c.name.as_str(), c.kind, c.nullable))
            .collect()
    }

    /// Every row type traces to the columns of its CSV header, in order.
    #[test]
    fn layouts_are_the_csv_columns() {
        assert_eq!(Layout::of::<TrajectoryRow>().names(), columns::<TrajectoryRow>());
        assert_eq!(Layout::of::<MetricsRow>().names(), columns::<MetricsRow>());
        assert_eq!(Layout::of::<FirmRow>().names(), columns::<FirmRow>());
        assert_eq!(Layout::of::<PropagationRow>().names(), columns::<PropagationRow>());
        let sweep = Layout::of::<SweepRow>();
        let mut without_params = columns::<SweepRow>().to_vec();
        without_params.retain(|&c| c != "params");
        assert_eq!(sweep.names(), without_params);
    }

    #[test]
    fn types_follow_the_fields() {
        use Kind::*;
        let t = Layout::of::<TrajectoryRow>();
        assert_eq!(
            kinds(&t)[..3],
            [("tick", UInt64, false), ("good", Utf8, false), ("price", Float64, true)]
        );
        assert_eq!(kinds(&t)[7], ("reference", Float64, true));
        let m = Layout::of::<MetricsRow>();
        assert_eq!(kinds(&m).last(), Some(&("shock", Utf8, true)));
        let f = Layout::of::<FirmRow>();
        assert_eq!(kinds(&f)[1], ("count", UInt64, false));
        let p = Layout::of::<PropagationRow>();
        assert_eq!(kinds(&p)[0], ("shock_tick", UInt64, true));
        assert_eq!(kinds(&p)[3], ("arrival_tick", UInt64, true));
        let s = Layout::of::<SweepRow>()
            .expand(
                "params",
                &[("market.step".into(), Float64), ("agents.rule".into(), Utf8)],
            )
            .without("wall_seconds");
        assert_eq!(
            kinds(&s),
            [
                ("point", UInt64, false),
                ("replicate", UInt64, false),
                ("market.step", Float64, false),
                ("agents.rule", Utf8, false),
                ("seed", UInt64, false),
                ("outcome", Utf8, false),
                ("ticks", UInt64, false),
                ("max_rel_error", Float64, true),
                ("max_rel_excess", Float64, true),
                ("mean_cosine", Float64, true),
            ]
        );
        assert_eq!(s.schema().fields().len(), 10);
    }
}
