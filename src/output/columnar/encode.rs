//! Rows into Arrow columns: a serde serializer that appends each field of a row to the
//! builder of its column ([`super::layout::Layout`]), and hands the rows gathered so far over
//! as one `RecordBatch`.
//!
//! It says it is not human-readable, so the number columns of the row types serialize their
//! f64 (not the text [`crate::numeric::float_text`] writes into CSV; src/output/rows/mod.rs);
//! a non-finite number is written as null, as CSV writes an empty field.

use super::layout::{Kind, Layout};
use arrow_array::builder::{ArrayBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use serde::ser::{self, Impossible, Serialize, SerializeSeq, SerializeStruct, Serializer};
use std::fmt;
use std::sync::Arc;

/// Why a row could not be encoded (a row type this module does not support, or a value that
/// does not fit its column): a bug, not bad input.
#[derive(Debug)]
pub struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

impl ser::Error for EncodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string())
    }
}

/// The builder of one column.
enum Builder {
    U64(UInt64Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Str(StringBuilder),
    Bool(BooleanBuilder),
}

impl Builder {
    fn new(kind: Kind, rows: usize) -> Builder {
        match kind {
            Kind::UInt64 => Builder::U64(UInt64Builder::with_capacity(rows)),
            Kind::Int64 => Builder::I64(Int64Builder::with_capacity(rows)),
            Kind::Float64 => Builder::F64(Float64Builder::with_capacity(rows)),
            Kind::Utf8 => Builder::Str(StringBuilder::with_capacity(rows, rows * 8)),
            Kind::Boolean => Builder::Bool(BooleanBuilder::with_capacity(rows)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Builder::U64(b) => b.len(),
            Builder::I64(b) => b.len(),
            Builder::F64(b) => b.len(),
            Builder::Str(b) => b.len(),
            Builder::Bool(b) => b.len(),
        }
    }

    fn append_null(&mut self) {
        match self {
            Builder::U64(b) => b.append_null(),
            Builder::I64(b) => b.append_null(),
            Builder::F64(b) => b.append_null(),
            Builder::Str(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::U64(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// Rows gathered into columns.
pub struct Encoder {
    layout: Layout,
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
    /// Rows a batch is made for (the builders' capacity).
    capacity: usize,
}

impl Encoder {
    /// An encoder of rows into the columns of `layout`, for batches of about `capacity` rows.
    pub fn new(layout: Layout, capacity: usize) -> Encoder {
        let schema = layout.schema();
        let builders = layout.columns.iter().map(|c| Builder::new(c.kind, capacity)).collect();
        Encoder {
            layout,
            schema,
            builders,
            rows: 0,
            capacity,
        }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The rows gathered since the last batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Add a row. After an error the rows gathered are unusable (the writer gives up the file).
    pub fn push<R: Serialize>(&mut self, row: &R) -> Result<(), EncodeError> {
        row.serialize(RowSerializer { enc: self })
    }

    /// The rows gathered so far, as a batch; the encoder starts afresh.
    pub fn batch(&mut self) -> Result<RecordBatch, EncodeError> {
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        self.builders = self
            .layout
            .columns
            .iter()
            .map(|c| Builder::new(c.kind, self.capacity))
            .collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| EncodeError(e.to_string()))
    }
}

fn unsupported(what: &str) -> EncodeError {
    EncodeError(format!("a row holds {what}, which has no column type"))
}

/// Serializes one row (a struct).
struct RowSerializer<'a> {
    enc: &'a mut Encoder,
}

/// The fields of the row being serialized.
struct Fields<'a> {
    enc: &'a mut Encoder,
    /// Where the search for the next field's columns starts (fields come in column order).
    cursor: usize,
}

impl<'a> Serializer for RowSerializer<'a> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Impossible<(), EncodeError>;
    type SerializeTuple = Impossible<(), EncodeError>;
    type SerializeTupleStruct = Impossible<(), EncodeError>;
    type SerializeTupleVariant = Impossible<(), EncodeError>;
    type SerializeMap = Impossible<(), EncodeError>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Impossible<(), EncodeError>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Fields<'a>, EncodeError> {
        Ok(Fields {
            enc: self.enc,
            cursor: 0,
        })
    }

    fn serialize_bool(self, _: bool) -> Result<(), EncodeError> {
        Err(unsupported("a bool as a row"))
    }
    fn serialize_i8(self, _: i8) -> Result<(), EncodeError> {
        Err(unsupported("a number as a row"))
    }
    fn serialize_i16(self, _: i16) -> Result<(), EncodeError> {
        Err(unsupported("a number as a row"))
    }
    fn serialize_i32(self, _: i32) -> Result<(), EncodeError> {
        Err(unsupported("a number as a row"))
    }
    fn serialize_i64(self, _: i64) -> Result<(), EncodeError> {
        Err(unsupported("a number as a row"))
    }
    fn serialize_u8(self, _: u8) -> Result<(), EncodeError> {
        Err(unsupported("a number as a row"))
    }
    fn serialize_u16(self, _: u16) -> Result<(), EncodeError> {
        Err(unsupported("a number as a row"))
    }
    fn serialize_u32(self, _: u32) -> Result<(), EncodeError> {
        Err(unsupported("a number as a row"))
    }
    fn serialize_u64(self, _: u64) -> Result<(), EncodeError> {
        Err(unsupported("a number as a row"))
    }
    fn serialize_f32(self, _: f32) -> Result<(), EncodeError> {
        Err(unsupported("a number as a row"))
    }
    fn serialize_f64(self, _: f64) -> Result<(), EncodeError> {
        Err(unsupported("a number as a row"))
    }
    fn serialize_char(self, _: char) -> Result<(), EncodeError> {
        Err(unsupported("a char as a row"))
    }
    fn serialize_str(self, _: &str) -> Result<(), EncodeError> {
        Err(unsupported("a text as a row"))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), EncodeError> {
        Err(unsupported("bytes"))
    }
    fn serialize_none(self) -> Result<(), EncodeError> {
        Err(unsupported("an option as a row"))
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), EncodeError> {
        Err(unsupported("an option as a row"))
    }
    fn serialize_unit(self) -> Result<(), EncodeError> {
        Err(unsupported("a unit"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), EncodeError> {
        Err(unsupported("a unit struct"))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), EncodeError> {
        Err(unsupported("an enum as a row"))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, _: &T) -> Result<(), EncodeError> {
        Err(unsupported("a newtype struct"))
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), EncodeError> {
        Err(unsupported("an enum variant with data"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, EncodeError> {
        Err(unsupported("a list as a row"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, EncodeError> {
        Err(unsupported("a tuple"))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, EncodeError> {
        Err(unsupported("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, EncodeError> {
        Err(unsupported("an enum variant with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, EncodeError> {
        Err(unsupported("a map"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, EncodeError> {
        Err(unsupported("an enum variant with data"))
    }
}

impl SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), EncodeError> {
        let columns = &self.enc.layout.columns;
        let n = columns.len();
        let start = (0..n)
            .map(|k| (self.cursor + k) % n)
            .find(|&i| columns[i].field == key)
            .ok_or_else(|| EncodeError(format!("the row's field `{key}` has no column in this file")))?;
        let end = start + columns[start..].iter().take_while(|c| c.field == key).count();
        self.cursor = end % n.max(1);
        value.serialize(Cell {
            builders: &mut self.enc.builders[start..end],
            nullable: columns[start].nullable,
            name: &columns[start].name,
        })
    }

    fn end(self) -> Result<(), EncodeError> {
        let rows = self.enc.rows + 1;
        for (b, c) in self.enc.builders.iter_mut().zip(&self.enc.layout.columns) {
            if b.len() + 1 == rows && c.nullable {
                // a field left out of the row (skip_serializing_if)
                b.append_null();
            }
            if b.len() != rows {
                return Err(EncodeError(format!("column `{}` got no value or two", c.name)));
            }
        }
        self.enc.rows = rows;
        Ok(())
    }
}

/// Serializes one field into its column (or, a list, into its columns).
struct Cell<'a> {
    builders: &'a mut [Builder],
    nullable: bool,
    name: &'a str,
}

impl Cell<'_> {
    fn one(&mut self) -> Result<&mut Builder, EncodeError> {
        match self.builders {
            [b] => Ok(b),
            _ => Err(EncodeError(format!(
                "column `{}`: a single value for a list field",
                self.name
            ))),
        }
    }

    fn mismatch(&self, what: &str) -> EncodeError {
        EncodeError(format!("column `{}`: {what} does not fit its type", self.name))
    }

    fn text(mut self, v: &str) -> Result<(), EncodeError> {
        let wrong = self.mismatch(&format!("the text \"{v}\""));
        match self.one()? {
            Builder::Str(b) => b.append_value(v),
            // a sweep's parameter column of numbers (its values were checked to read back)
            Builder::F64(b) => b.append_value(v.parse().map_err(|_| wrong)?),
            Builder::I64(b) => b.append_value(v.parse().map_err(|_| wrong)?),
            Builder::U64(b) => b.append_value(v.parse().map_err(|_| wrong)?),
            Builder::Bool(_) => return Err(wrong),
        }
        Ok(())
    }

    fn unsigned(mut self, v: u64) -> Result<(), EncodeError> {
        let wrong = self.mismatch(&format!("the integer {v}"));
        match self.one()? {
            Builder::U64(b) => b.append_value(v),
            Builder::I64(b) => b.append_value(i64::try_from(v).map_err(|_| wrong)?),
            _ => return Err(wrong),
        }
        Ok(())
    }

    fn signed(mut self, v: i64) -> Result<(), EncodeError> {
        let wrong = self.mismatch(&format!("the integer {v}"));
        match self.one()? {
            Builder::I64(b) => b.append_value(v),
            Builder::U64(b) => b.append_value(u64::try_from(v).map_err(|_| wrong)?),
            _ => return Err(wrong),
        }
        Ok(())
    }
}

impl<'a> Serializer for Cell<'a> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = List<'a>;
    type SerializeTuple = Impossible<(), EncodeError>;
    type SerializeTupleStruct = Impossible<(), EncodeError>;
    type SerializeTupleVariant = Impossible<(), EncodeError>;
    type SerializeMap = Impossible<(), EncodeError>;
    type SerializeStruct = Impossible<(), EncodeError>;
    type SerializeStructVariant = Impossible<(), EncodeError>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(mut self, v: bool) -> Result<(), EncodeError> {
        let wrong = self.mismatch("a bool");
        match self.one()? {
            Builder::Bool(b) => b.append_value(v),
            _ => return Err(wrong),
        }
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), EncodeError> {
        self.signed(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), EncodeError> {
        self.signed(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), EncodeError> {
        self.signed(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), EncodeError> {
        self.signed(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), EncodeError> {
        self.unsigned(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), EncodeError> {
        self.unsigned(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), EncodeError> {
        self.unsigned(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), EncodeError> {
        self.unsigned(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), EncodeError> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(mut self, v: f64) -> Result<(), EncodeError> {
        let wrong = self.mismatch("a number");
        match self.one()? {
            // no NaN or infinity is written: null, as CSV's empty field
            Builder::F64(b) if v.is_finite() => b.append_value(v),
            Builder::F64(b) => b.append_null(),
            _ => return Err(wrong),
        }
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        self.text(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        self.text(v)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), EncodeError> {
        Err(unsupported("bytes"))
    }
    fn serialize_none(mut self) -> Result<(), EncodeError> {
        if !self.nullable {
            return Err(self.mismatch("a missing value"));
        }
        self.one()?.append_null();
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<(), EncodeError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), EncodeError> {
        Err(unsupported("a unit"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), EncodeError> {
        Err(unsupported("a unit struct"))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), EncodeError> {
        self.text(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, v: &T) -> Result<(), EncodeError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), EncodeError> {
        Err(unsupported("an enum variant with data"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<List<'a>, EncodeError> {
        Ok(List {
            builders: self.builders,
            name: self.name,
            next: 0,
        })
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, EncodeError> {
        Err(unsupported("a tuple"))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, EncodeError> {
        Err(unsupported("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, EncodeError> {
        Err(unsupported("an enum variant with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, EncodeError> {
        Err(unsupported("a map"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, EncodeError> {
        Err(unsupported("a struct inside a row"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, EncodeError> {
        Err(unsupported("an enum variant with data"))
    }
}

/// A list field's values, one per column.
struct List<'a> {
    builders: &'a mut [Builder],
    name: &'a str,
    next: usize,
}

impl SerializeSeq for List<'_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), EncodeError> {
        let count = self.builders.len();
        let b = self
            .builders
            .get_mut(self.next..self.next + 1)
            .ok_or_else(|| EncodeError(format!("a list of more than {count} values at column `{}`", self.name)))?;
        self.next += 1;
        v.serialize(Cell {
            builders: b,
            nullable: false,
            name: self.name,
        })
    }

    fn end(self) -> Result<(), EncodeError> {
        if self.next != self.builders.len() {
            return Err(EncodeError(format!(
                "a list of {} values for {} columns from `{}`",
                self.next,
                self.builders.len(),
                self.name
            )));
        }
        Ok(())
    }
}
