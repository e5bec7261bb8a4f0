//! Arrow columns back into rows: a serde deserializer that reads one row of a `RecordBatch`
//! as a value of a row type, each field from the column of the same name (a list field from
//! the columns between its neighbours' columns, as text: a sweep's parameters).

use super::layout::Layout;
use crate::numeric::float_text;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Schema};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use std::ops::Range;

/// Why a row could not be read, in words (`column `price`: ...`).
pub type DecodeError = de::value::Error;

/// Where each field of a row type is in a file.
#[derive(Debug, Clone)]
pub struct Plan {
    /// (field, its columns) for the fields the file has, in the row type's order.
    fields: Vec<(&'static str, Source)>,
}

#[derive(Debug, Clone)]
enum Source {
    One(usize),
    List(Range<usize>),
}

impl Plan {
    /// The plan of rows `R` in a file with `schema`. Fields the file lacks are left out: serde
    /// then reads an `Option` field as None, and says that a required one is missing (a reader
    /// checks for those first, to name the file).
    pub fn new<R: DeserializeOwned>(schema: &Schema) -> Plan {
        let layout = Layout::of::<R>();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let find = |name: &str| names.iter().position(|&n| n == name);
        let mut fields = Vec::new();
        let all = crate::output::rows::columns::<R>();
        for (k, &field) in all.iter().enumerate() {
            if layout.is_list(field) {
                // the columns after the previous field's and before the next field's
                let start = all[..k].iter().rev().find_map(|f| find(f)).map_or(0, |i| i + 1);
                let end = all[k + 1..].iter().find_map(|f| find(f)).unwrap_or(names.len());
                fields.push((field, Source::List(start..end.max(start))));
            } else if let Some(i) = find(field) {
                fields.push((field, Source::One(i)));
            }
        }
        Plan { fields }
    }

    /// Row `row` of `columns` (a batch of the file this plan is of).
    pub fn row<R: DeserializeOwned>(&self, columns: &[ArrayRef], row: usize) -> Result<R, DecodeError> {
        R::deserialize(RowReader {
            plan: self,
            columns,
            row,
        })
    }
}

/// One row of a batch, as a struct.
struct RowReader<'a> {
    plan: &'a Plan,
    columns: &'a [ArrayRef],
    row: usize,
}

impl<'de> Deserializer<'de> for RowReader<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_map(FieldReader { row: self, next: 0 })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// The fields of a row, in order.
struct FieldReader<'a> {
    row: RowReader<'a>,
    next: usize,
}

impl<'de> MapAccess<'de> for FieldReader<'_> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DecodeError> {
        match self.row.plan.fields.get(self.next) {
            Some(&(name, _)) => seed.deserialize(name.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DecodeError> {
        let (name, source) = &self.row.plan.fields[self.next];
        self.next += 1;
        let row = self.row.row;
        let read = match source {
            Source::One(i) => seed.deserialize(CellReader {
                array: &self.row.columns[*i],
                row,
            }),
            Source::List(range) => seed.deserialize(ListReader {
                arrays: &self.row.columns[range.clone()],
                row,
            }),
        };
        read.map_err(|e| de::Error::custom(format!("column `{name}`: {e}")))
    }
}

/// One value: a column at a row.
struct CellReader<'a> {
    array: &'a ArrayRef,
    row: usize,
}

impl CellReader<'_> {
    fn is_null(&self) -> bool {
        self.array.is_null(self.row)
    }

    /// The value as text (a list field's element): numbers as CSV writes them.
    fn text(&self) -> Result<String, DecodeError> {
        if self.is_null() {
            return Err(de::Error::custom("is empty (null) but must hold a value"));
        }
        let (a, i) = (self.array, self.row);
        Ok(match a.data_type() {
            DataType::Float64 => float_text::num(a.as_primitive::<Float64Type>().value(i)),
            DataType::Int64 => a.as_primitive::<Int64Type>().value(i).to_string(),
            DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).to_string(),
            DataType::Boolean => a.as_boolean().value(i).to_string(),
            DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
            DataType::LargeUtf8 => a.as_string::<i64>().value(i).to_string(),
            DataType::Utf8View => a.as_string_view().value(i).to_string(),
            t => return Err(unreadable(t)),
        })
    }

    /// A required value that is null.
    fn null(&self, what: &str) -> DecodeError {
        de::Error::custom(format!("is empty (null) but must hold {what}"))
    }
}

fn unreadable(t: &DataType) -> DecodeError {
    de::Error::custom(format!("has the type {t}, which pricegrad does not read"))
}

impl<'de> Deserializer<'de> for CellReader<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if self.is_null() {
            return visitor.visit_none();
        }
        let (a, i) = (self.array, self.row);
        match a.data_type() {
            DataType::UInt64 => visitor.visit_u64(a.as_primitive::<UInt64Type>().value(i)),
            DataType::UInt32 => visitor.visit_u32(a.as_primitive::<UInt32Type>().value(i)),
            DataType::UInt16 => visitor.visit_u16(a.as_primitive::<UInt16Type>().value(i)),
            DataType::UInt8 => visitor.visit_u8(a.as_primitive::<UInt8Type>().value(i)),
            DataType::Int64 => visitor.visit_i64(a.as_primitive::<Int64Type>().value(i)),
            DataType::Int32 => visitor.visit_i32(a.as_primitive::<Int32Type>().value(i)),
            DataType::Int16 => visitor.visit_i16(a.as_primitive::<Int16Type>().value(i)),
            DataType::Int8 => visitor.visit_i8(a.as_primitive::<Int8Type>().value(i)),
            DataType::Float64 => visitor.visit_f64(a.as_primitive::<Float64Type>().value(i)),
            DataType::Float32 => visitor.visit_f32(a.as_primitive::<Float32Type>().value(i)),
            DataType::Boolean => visitor.visit_bool(a.as_boolean().value(i)),
            DataType::Utf8 => visitor.visit_str(a.as_string::<i32>().value(i)),
            DataType::LargeUtf8 => visitor.visit_str(a.as_string::<i64>().value(i)),
            DataType::Utf8View => visitor.visit_str(a.as_string_view().value(i)),
            t => Err(unreadable(t)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if self.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if self.is_null() {
            return Err(self.null("a number"));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if self.is_null() {
            return Err(self.null("a non-negative integer"));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        if self.is_null() {
            return Err(self.null("a text"));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        let text = self.text()?;
        visitor.visit_enum(text.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u128 f32 char bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

/// A list field: its columns' values at a row, as texts.
struct ListReader<'a> {
    arrays: &'a [ArrayRef],
    row: usize,
}

impl<'de> Deserializer<'de> for ListReader<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_seq(Elements { list: self, next: 0 })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

struct Elements<'a> {
    list: ListReader<'a>,
    next: usize,
}

impl<'de> SeqAccess<'de> for Elements<'_> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DecodeError> {
        let Some(array) = self.list.arrays.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let text = CellReader {
            array,
            row: self.list.row,
        }
        .text()?;
        seed.deserialize(text.into_deserializer()).map(Some)
    }
}
