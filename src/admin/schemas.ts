import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/** Admin and owner API bodies. Strict (no unknown fields): a typo in an admin call is an error. */
const Limits = Type.Object(
  {
    rpm: Type.Optional(Type.Integer({ minimum: 0 })),
    tpm: Type.Optional(Type.Integer({ minimum: 0 })),
    concurrency: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const CreateAccountBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }), plan: Type.String({ minLength: 1 }) },
  { additionalProperties: false },
);

export const UpdateAccountBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    plan: Type.Optional(Type.String({ minLength: 1 })),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('suspended')])),
  },
  { additionalProperties: false },
);

const keyFields = {
  name: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  models: Type.Optional(Type.Union([Type.Array(Type.String({ minLength: 1 })), Type.Null()])),
  /** RFC 3339 date-time, or Unix seconds. */
  expires_at: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 0 }), Type.Null()])),
  limits: Type.Optional(Type.Union([Limits, Type.Null()])),
};

export const CreateKeyBody = Type.Object({ account_id: Type.String({ minLength: 1 }), ...keyFields }, { additionalProperties: false });
export const CreateOwnKeyBody = Type.Object(keyFields, { additionalProperties: false });

export type CreateAccountInput = Static<typeof CreateAccountBody>;
export type UpdateAccountInput = Static<typeof UpdateAccountBody>;
export type CreateKeyInput = Static<typeof CreateKeyBody>;
export type CreateOwnKeyInput = Static<typeof CreateOwnKeyBody>;

export const checks = {
  createAccount: TypeCompiler.Compile(CreateAccountBody),
  updateAccount: TypeCompiler.Compile(UpdateAccountBody),
  createKey: TypeCompiler.Compile(CreateKeyBody),
  createOwnKey: TypeCompiler.Compile(CreateOwnKeyBody),
};
